package main

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/spf13/pflag"
)

// runPush implements `imagebuild push --image TARBALL --ref REF`.
func runPush(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet("imagebuild push", pflag.ContinueOnError)
	var (
		image = fs.String("image", "", "tarball written by imagebuild (OCI or docker format) (required)")
		ref   = fs.String("ref", "", "where to push it, e.g. ghcr.io/org/repo/name:v1.0 (required)")
	)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: imagebuild push --image TARBALL --ref REF\n\n"+
			"Pushes the image to a registry with the credentials of the default keychain\n"+
			"(docker config.json, as written by `docker login` or `crane auth login`).\n\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *image == "" || *ref == "" {
		return fmt.Errorf("--image and --ref are required")
	}
	tag, err := name.NewTag(*ref, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("--ref %q is not a valid image reference with a tag, such as ghcr.io/org/name:v1.0: %w", *ref, err)
	}
	digest, err := Push(ctx, *image, tag, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return err
	}
	fmt.Printf("pushed %s@%s\n", tag.Name(), digest)
	return nil
}

// Push uploads the image or multi-platform index held in tarball (as Build or BuildIndex
// writes it) to tag and returns its digest, which is the digest Build or BuildIndex
// reported: pushing does not change the image.
func Push(ctx context.Context, tarballPath string, tag name.Tag, opts ...remote.Option) (string, error) {
	a, cleanup, err := ReadArtifact(tarballPath)
	if err != nil {
		return "", err
	}
	defer cleanup()
	digest, err := a.Digest()
	if err != nil {
		return "", fmt.Errorf("computing the digest of %s: %w", tarballPath, err)
	}
	opts = append(opts, remote.WithContext(ctx))
	switch x := a.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(tag, x, opts...)
	case v1.Image:
		err = remote.Write(tag, x, opts...)
	}
	if err != nil {
		return "", fmt.Errorf("pushing %s to %s: %w", tarballPath, tag.Name(), err)
	}
	return digest.String(), nil
}

// ReadImage opens the single image of a tarball written by Build. An OCI tarball is
// extracted into a temporary directory, which cleanup removes once img is no longer used.
func ReadImage(tarballPath string) (img v1.Image, cleanup func(), err error) {
	a, cleanup, err := ReadArtifact(tarballPath)
	if err != nil {
		return nil, nil, err
	}
	img, ok := a.(v1.Image)
	if !ok {
		cleanup()
		return nil, nil, fmt.Errorf("%s holds a multi-platform index, not a single image", tarballPath)
	}
	return img, cleanup, nil
}

// ReadIndex opens the multi-platform index of a tarball written by BuildIndex, as ReadImage
// opens an image.
func ReadIndex(tarballPath string) (idx v1.ImageIndex, cleanup func(), err error) {
	a, cleanup, err := ReadArtifact(tarballPath)
	if err != nil {
		return nil, nil, err
	}
	idx, ok := a.(v1.ImageIndex)
	if !ok {
		cleanup()
		return nil, nil, fmt.Errorf("%s holds a single image, not a multi-platform index", tarballPath)
	}
	return idx, cleanup, nil
}

// ReadArtifact opens what a tarball written by Build or BuildIndex names: a v1.Image, or a
// v1.ImageIndex of one image per platform. An OCI tarball is extracted into a temporary
// directory, which cleanup removes once the result is no longer used.
func ReadArtifact(tarballPath string) (a artifact, cleanup func(), err error) {
	isOCI, err := tarHolds(tarballPath, "index.json")
	if err != nil {
		return nil, nil, err
	}
	if !isOCI {
		img, err := tarball.ImageFromPath(tarballPath, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s as a docker-format image tarball: %w", tarballPath, err)
		}
		return img, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "imagebuild-oci-")
	if err != nil {
		return nil, nil, fmt.Errorf("creating a directory to extract %s into: %w", tarballPath, err)
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	if err := extract(tarballPath, dir); err != nil {
		cleanup()
		return nil, nil, err
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("reading %s as an OCI image layout: %w", tarballPath, err)
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("reading the index of %s: %w", tarballPath, err)
	}
	if len(manifest.Manifests) != 1 {
		cleanup()
		return nil, nil, fmt.Errorf("%s holds %d images; want exactly one", tarballPath, len(manifest.Manifests))
	}
	d := manifest.Manifests[0]
	if d.MediaType.IsIndex() {
		a, err = idx.ImageIndex(d.Digest)
	} else {
		a, err = idx.Image(d.Digest)
	}
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("reading the image of %s: %w", tarballPath, err)
	}
	return a, cleanup, nil
}

// tarHolds reports whether the tar file holds an entry called entry.
func tarHolds(tarballPath, entry string) (bool, error) {
	f, err := os.Open(tarballPath)
	if err != nil {
		return false, err
	}
	defer func() { _ = f.Close() }()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("reading %s: %w", tarballPath, err)
		}
		if path.Clean(hdr.Name) == entry {
			return true, nil
		}
	}
}

// extract unpacks the regular files and directories of a tar file into dir, refusing any
// entry that would land outside it.
func extract(tarballPath, dir string) error {
	f, err := os.Open(tarballPath)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", tarballPath, err)
		}
		rel := path.Clean(hdr.Name)
		if path.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Errorf("%s: entry %q points outside the archive", tarballPath, hdr.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(rel))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("extracting %s from %s: %w", hdr.Name, tarballPath, err)
			}
		default:
			return fmt.Errorf("%s: entry %q is neither a file nor a directory", tarballPath, hdr.Name)
		}
	}
}
