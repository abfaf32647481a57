// Package console is what KubeStellar's commands share about running on a terminal: the
// process's signals, exit status and error line, and flags typed the way the original
// documents type them.
package console

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Main runs the command newCommand makes, on the process's streams, until it ends or SIGINT
// or SIGTERM cancels it, and exits non-zero, saying why, when it fails.
func Main(newCommand func(genericiooptions.IOStreams) *cobra.Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cmd := newCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	cmd.SetArgs(JoinBoolValues(cmd, os.Args[1:]))
	err := cmd.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

// BoolFlag is a boolean flag that takes its value as the next argument too, as in
// "--openshift true", and must be given a value: "--openshift maybe" is an error that says
// so rather than a stray argument.
type BoolFlag struct{ Value bool }

// String implements pflag.Value.
func (b *BoolFlag) String() string { return strconv.FormatBool(b.Value) }

// Type implements pflag.Value.
func (b *BoolFlag) Type() string { return "true|false" }

// Set implements pflag.Value.
func (b *BoolFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("want true or false, not %q", s)
	}
	b.Value = v
	return nil
}

// JoinBoolValues rewrites "--flag true" and "--flag false" (and -f true) into "--flag=true",
// for every boolean flag of cmd and its subcommands, so that the documents' "--flag $bool"
// works beside pflag's "--flag" and "--flag=false". Arguments after "--" stay as they are.
func JoinBoolValues(cmd *cobra.Command, args []string) []string {
	long, short := map[string]bool{}, map[string]bool{}
	var collect func(c *cobra.Command)
	collect = func(c *cobra.Command) {
		add := func(f *pflag.Flag) {
			if f.Value.Type() != "bool" {
				return
			}
			long[f.Name] = true
			if f.Shorthand != "" {
				short[f.Shorthand] = true
			}
		}
		c.Flags().VisitAll(add)
		c.PersistentFlags().VisitAll(add)
		for _, sub := range c.Commands() {
			collect(sub)
		}
	}
	collect(cmd)
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		isBool := false
		if name, ok := strings.CutPrefix(a, "--"); ok && !strings.Contains(name, "=") {
			isBool = long[name]
		} else if name, ok := strings.CutPrefix(a, "-"); ok && len(name) == 1 {
			isBool = short[name]
		}
		if isBool && i+1 < len(args) {
			if _, err := strconv.ParseBool(args[i+1]); err == nil && isBoolWord(args[i+1]) {
				out = append(out, a+"="+args[i+1])
				i++
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// isBoolWord is true for the words a user types for a boolean; "1" and "0" stay arguments.
func isBoolWord(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false":
		return true
	}
	return false
}
