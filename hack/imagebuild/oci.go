package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// annotationContainerdName names an image in index.json for containerd (`ctr images
	// import`) and docker load: the full reference.
	annotationContainerdName = "io.containerd.image.name"
	// annotationRefName is the OCI image layout's name of an image: its tag.
	annotationRefName = "org.opencontainers.image.ref.name"
)

// writeOCIToFile writes img as an OCI image layout in a tar file: oci-layout, index.json
// naming img by tag, then the blobs. Every entry carries mtime, so the same image gives the
// same bytes.
func writeOCIToFile(output string, tag name.Tag, img v1.Image, mtime time.Time) (err error) {
	f, err := os.Create(output)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return writeOCI(f, tag, img, mtime)
}

func writeOCI(w io.Writer, tag name.Tag, img v1.Image, mtime time.Time) error {
	manifest, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("reading the manifest: %w", err)
	}
	mediaType, err := img.MediaType()
	if err != nil {
		return fmt.Errorf("reading the manifest's media type: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("computing the image digest: %w", err)
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("reading the image configuration: %w", err)
	}
	configDigest, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("computing the configuration digest: %w", err)
	}
	index := v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: mediaType,
			Size:      int64(len(manifest)),
			Digest:    digest,
			Annotations: map[string]string{
				annotationContainerdName: tag.Name(),
				annotationRefName:        tag.TagStr(),
			},
		}},
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return fmt.Errorf("encoding index.json: %w", err)
	}

	tw := tar.NewWriter(w)
	dir := func(name string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return fmt.Errorf("adding %s: %w", name, err)
		}
		n, err := io.Copy(tw, r)
		if err != nil {
			return fmt.Errorf("adding %s: %w", name, err)
		}
		if n != size {
			return fmt.Errorf("adding %s: %d bytes instead of %d", name, n, size)
		}
		return nil
	}
	blob := func(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

	layout := []byte(`{"imageLayoutVersion":"1.0.0"}`)
	if err := file("oci-layout", int64(len(layout)), bytes.NewReader(layout)); err != nil {
		return err
	}
	if err := file("index.json", int64(len(indexJSON)), bytes.NewReader(indexJSON)); err != nil {
		return err
	}
	if err := dir("blobs/"); err != nil {
		return err
	}
	if err := dir("blobs/" + digest.Algorithm + "/"); err != nil {
		return err
	}
	if err := file(blob(digest), int64(len(manifest)), bytes.NewReader(manifest)); err != nil {
		return err
	}
	if err := file(blob(configDigest), int64(len(config)), bytes.NewReader(config)); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("listing the layers: %w", err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return fmt.Errorf("computing a layer digest: %w", err)
		}
		size, err := l.Size()
		if err != nil {
			return fmt.Errorf("reading the size of layer %s: %w", d, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("reading layer %s: %w", d, err)
		}
		err = file(blob(d), size, rc)
		_ = rc.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finishing the tarball: %w", err)
	}
	return nil
}
