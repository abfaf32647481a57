// Command imagebuild assembles a container image from scratch, without a container engine
// or a registry: static binaries (and any other files) placed at given paths in one layer,
// an entrypoint, a non-root user, and an image reference, written as a docker-format
// tarball ("docker save" layout) that `ctr images import`, `docker load`, `podman load` and
// `kind load image-archive` accept, or (--format oci) as an OCI image layout in a tar, which
// `ctr images import`, `podman load`, `skopeo copy oci-archive:` and docker 25+ accept.
//
// Usage:
//
//	imagebuild --ref REF --entrypoint PATH --file SRC:DEST[:MODE] [--file ...] --output FILE
//	imagebuild --format oci --platform linux/amd64,linux/arm64 --file bin/{os}_{arch}/app:/app ...
//	imagebuild push --image TARBALL --ref REF
//
// Given several platforms (or --index), it writes a multi-platform image: an OCI image
// index, named by REF, of one image per platform, each with its own config naming its
// platform; {os}, {arch} and {variant} in a --file SRC stand for each platform's parts, so
// each image gets the binaries cross-compiled for it.
//
// With --if-changed, an output whose inputs (the flags and the content of every --file)
// are those it was last written from is left alone; the digest of the inputs is kept in
// OUTPUT.inputs. `push` uploads a tarball to a registry (credentials from the default
// keychain, that is docker's config.json).
// Every file is owned by root and keeps its source permission bits unless MODE (octal) is
// given; parent directories are created. The image also holds /tmp (mode 1777) and, unless
// --passwd=false, an /etc/passwd and /etc/group naming root and the image's user. Layer and
// config carry a fixed time (--created, else $SOURCE_DATE_EPOCH, else the Unix epoch), so the
// same inputs give the same image digest.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

func main() {
	var err error
	if len(os.Args) > 1 && os.Args[1] == "push" {
		err = runPush(context.Background(), os.Args[2:])
	} else {
		err = run(os.Args[1:])
	}
	if err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return
		}
		fmt.Fprintf(os.Stderr, "imagebuild: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := pflag.NewFlagSet("imagebuild", pflag.ContinueOnError)
	var (
		ref        = fs.String("ref", "", "image reference to record in the tarball, e.g. localhost/kubestellar/pause:1.0 (required)")
		entrypoint = fs.String("entrypoint", "", "absolute path, inside the image, of the program to run (required)")
		cmd        = fs.StringArray("cmd", nil, "default argument to the entrypoint (repeatable, in order)")
		files      = fs.StringArray("file", nil, "SRC:DEST[:MODE] file to copy into the image at absolute path DEST, MODE in octal (repeatable)")
		dirs       = fs.StringArray("dir", nil, "DEST[:MODE[:UID:GID]] directory to create in the image, default mode 0755 owned by root (repeatable)")
		user       = fs.String("user", "65532:65532", "UID:GID the entrypoint runs as")
		env        = fs.StringArray("env", nil, "KEY=VALUE environment variable (repeatable; PATH defaults to "+defaultPath+")")
		labels     = fs.StringArray("label", nil, "KEY=VALUE image label (repeatable)")
		workdir    = fs.String("workdir", "/", "working directory of the entrypoint")
		platforms  = fs.StringSlice("platform", []string{"linux/" + runtime.GOARCH}, "OS/ARCH[/VARIANT] the image is for; several (comma-separated or repeated) make a multi-platform index")
		index      = fs.Bool("index", false, "write a multi-platform image index even for one --platform (needs --format oci)")
		created    = fs.String("created", "", "creation time, RFC 3339 (default $SOURCE_DATE_EPOCH, else 1970-01-01T00:00:00Z)")
		passwd     = fs.Bool("passwd", true, "write /etc/passwd and /etc/group naming root and the image's user")
		output     = fs.String("output", "", "tarball to write (required)")
		format     = fs.String("format", FormatDocker, "tarball format: docker (docker save layout) or oci (OCI image layout)")
		ifChanged  = fs.Bool("if-changed", false, "leave the output alone when its inputs are those it was last written from")
	)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: imagebuild --ref REF --entrypoint PATH --file SRC:DEST[:MODE]... --output FILE [flags]\n\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	spec := Spec{
		Ref:        *ref,
		Entrypoint: *entrypoint,
		Cmd:        *cmd,
		WorkingDir: *workdir,
		Passwd:     *passwd,
		Format:     *format,
	}
	var err error
	for _, f := range *files {
		fe, err := parseFileFlag(f)
		if err != nil {
			return err
		}
		spec.Files = append(spec.Files, fe)
	}
	for _, d := range *dirs {
		de, err := parseDirFlag(d)
		if err != nil {
			return err
		}
		spec.Dirs = append(spec.Dirs, de)
	}
	if spec.UID, spec.GID, err = parseIDs(*user); err != nil {
		return fmt.Errorf("--user: %w", err)
	}
	if spec.Env, err = parseKeyValues("--env", *env); err != nil {
		return err
	}
	if spec.Labels, err = parseKeyValues("--label", *labels); err != nil {
		return err
	}
	var specs []Spec
	for _, p := range *platforms {
		ps := spec
		if ps.OS, ps.Arch, ps.Variant, err = parsePlatform(p); err != nil {
			return err
		}
		ps.Files = make([]File, len(spec.Files))
		for i, f := range spec.Files {
			f.Src = strings.NewReplacer("{os}", ps.OS, "{arch}", ps.Arch, "{variant}", ps.Variant).Replace(f.Src)
			ps.Files[i] = f
		}
		specs = append(specs, ps)
	}
	if len(specs) == 0 {
		return fmt.Errorf("--platform: at least one OS/ARCH is required")
	}
	multi := *index || len(specs) > 1
	if spec.Created, err = parseCreated(*created, os.Getenv("SOURCE_DATE_EPOCH")); err != nil {
		return err
	}
	if *output == "" {
		return fmt.Errorf("--output is required")
	}

	start := time.Now()
	var inputs string
	if *ifChanged {
		if inputs, err = inputsDigestAll(specs, multi); err != nil {
			return err
		}
		if digest, ok := upToDate(*output, inputs); ok {
			fmt.Printf("%s (%s) is up to date in %s\n", spec.Ref, digest, *output)
			return nil
		}
	}
	_ = os.Remove(inputsFile(*output))
	var digest, what string
	if multi {
		digest, err = BuildIndex(specs, *output)
		what = "index of " + strings.Join(*platforms, ", ")
	} else {
		digest, err = Build(specs[0], *output)
		what = (*platforms)[0]
	}
	if err != nil {
		return err
	}
	if *ifChanged {
		if err := recordInputs(*output, inputs, digest); err != nil {
			return fmt.Errorf("recording the inputs of %s: %w", *output, err)
		}
	}
	info, err := os.Stat(*output)
	if err != nil {
		return fmt.Errorf("checking the written tarball: %w", err)
	}
	fmt.Printf("wrote %s (%s, %s, %.1f MiB) to %s in %.1fs\n", spec.Ref, what, digest, float64(info.Size())/(1<<20), *output, time.Since(start).Seconds())
	return nil
}

// parseFileFlag parses SRC:DEST[:MODE].
func parseFileFlag(s string) (File, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return File{}, fmt.Errorf("--file %q: want SRC:DEST[:MODE]", s)
	}
	f := File{Src: parts[0], Dest: parts[1]}
	if len(parts) == 3 {
		mode, err := parseMode(parts[2])
		if err != nil {
			return File{}, fmt.Errorf("--file %q: %w", s, err)
		}
		f.Mode = &mode
	}
	return f, nil
}

// parseDirFlag parses DEST[:MODE[:UID:GID]].
func parseDirFlag(s string) (Dir, error) {
	parts := strings.Split(s, ":")
	if parts[0] == "" || len(parts) == 3 || len(parts) > 4 {
		return Dir{}, fmt.Errorf("--dir %q: want DEST[:MODE[:UID:GID]]", s)
	}
	d := Dir{Dest: parts[0], Mode: 0o755}
	if len(parts) >= 2 {
		mode, err := parseMode(parts[1])
		if err != nil {
			return Dir{}, fmt.Errorf("--dir %q: %w", s, err)
		}
		d.Mode = mode
	}
	if len(parts) == 4 {
		var err error
		if d.UID, d.GID, err = parseIDs(parts[2] + ":" + parts[3]); err != nil {
			return Dir{}, fmt.Errorf("--dir %q: %w", s, err)
		}
	}
	return d, nil
}

func parseMode(s string) (int64, error) {
	mode, err := strconv.ParseInt(s, 8, 32)
	if err != nil || mode < 0 || mode > 0o7777 {
		return 0, fmt.Errorf("mode %q is not an octal permission such as 0755", s)
	}
	return mode, nil
}

func parseIDs(s string) (int, int, error) {
	u, g, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want numeric UID:GID", s)
	}
	uid, err := strconv.Atoi(u)
	if err != nil || uid < 0 {
		return 0, 0, fmt.Errorf("%q: UID must be a non-negative number", s)
	}
	gid, err := strconv.Atoi(g)
	if err != nil || gid < 0 {
		return 0, 0, fmt.Errorf("%q: GID must be a non-negative number", s)
	}
	return uid, gid, nil
}

func parseKeyValues(flagName string, values []string) ([]KeyValue, error) {
	var out []KeyValue
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE", flagName, v)
		}
		out = append(out, KeyValue{Key: k, Value: val})
	}
	return out, nil
}

func parsePlatform(s string) (osName, arch, variant string, err error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return "", "", "", fmt.Errorf("--platform %q: want OS/ARCH[/VARIANT]", s)
	}
	if len(parts) == 3 {
		variant = parts[2]
	}
	return parts[0], parts[1], variant, nil
}

func parseCreated(flagValue, sourceDateEpoch string) (time.Time, error) {
	switch {
	case flagValue != "":
		t, err := time.Parse(time.RFC3339, flagValue)
		if err != nil {
			return time.Time{}, fmt.Errorf("--created %q: %w", flagValue, err)
		}
		return t.UTC(), nil
	case sourceDateEpoch != "":
		secs, err := strconv.ParseInt(sourceDateEpoch, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds", sourceDateEpoch)
		}
		return time.Unix(secs, 0).UTC(), nil
	default:
		return time.Unix(0, 0).UTC(), nil
	}
}
