package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// layoutVersion changes whenever the same Spec would give different bytes, so that images
// recorded as up to date by an older imagebuild are written again.
const layoutVersion = "imagebuild/2"

// inputsDigest returns a digest of everything the image written for spec depends on: the
// spec itself and the content and permission bits of every source file (not their paths
// or times, so a rebuilt but identical binary leaves the image up to date).
func inputsDigest(spec Spec) (string, error) {
	type source struct {
		Dest, Content string
		Mode          int64
	}
	sources := make([]source, 0, len(spec.Files))
	for _, f := range spec.Files {
		content, mode, err := hashFile(f.Src)
		if err != nil {
			return "", fmt.Errorf("--file %s: %w", f.Src, err)
		}
		if f.Mode != nil {
			mode = *f.Mode
		}
		sources = append(sources, source{Dest: f.Dest, Content: content, Mode: mode})
	}
	s := spec
	s.Files = nil
	b, err := json.Marshal(struct {
		Version string
		Spec    Spec
		Sources []source
	}{layoutVersion, s, sources})
	if err != nil {
		return "", fmt.Errorf("encoding the image's inputs: %w", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// inputsDigestAll is inputsDigest of a single image, or, for a multi-platform index, a
// digest of the inputs of every platform's image in order.
func inputsDigestAll(specs []Spec, index bool) (string, error) {
	if !index && len(specs) == 1 {
		return inputsDigest(specs[0])
	}
	h := sha256.New()
	_, _ = io.WriteString(h, "index\n")
	for _, spec := range specs {
		d, err := inputsDigest(spec)
		if err != nil {
			return "", err
		}
		_, _ = io.WriteString(h, d+"\n")
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), int64(info.Mode().Perm()), nil
}

// inputsFile is where the digest of an output's inputs is recorded, beside it.
func inputsFile(output string) string { return output + ".inputs" }

// upToDate returns the image digest recorded for output when output is there, unchanged
// since it was written, and was written from inputs.
func upToDate(output, inputs string) (string, bool) {
	b, err := os.ReadFile(inputsFile(output))
	if err != nil {
		return "", false
	}
	fields := strings.Fields(string(b))
	if len(fields) != 3 || fields[0] != inputs {
		return "", false
	}
	info, err := os.Stat(output)
	if err != nil || strconv.FormatInt(info.Size(), 10) != fields[2] {
		return "", false
	}
	return fields[1], true
}

// recordInputs notes beside output the inputs and digest of the image just written there.
func recordInputs(output, inputs, digest string) error {
	info, err := os.Stat(output)
	if err != nil {
		return err
	}
	return os.WriteFile(inputsFile(output), fmt.Appendf(nil, "%s %s %d\n", inputs, digest, info.Size()), 0o644)
}
