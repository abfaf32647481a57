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

// artifact is what an OCI layout names: an image (v1.Image) or an image index
// (v1.ImageIndex) of images.
type artifact interface {
	MediaType() (types.MediaType, error)
	Digest() (v1.Hash, error)
	RawManifest() ([]byte, error)
}

// writeOCIToFile writes a (an image or an index of images) as an OCI image layout in a tar
// file: oci-layout, index.json naming a by tag, then the blobs. Every entry carries mtime,
// so the same image gives the same bytes.
func writeOCIToFile(output string, tag name.Tag, a artifact, mtime time.Time) (err error) {
	f, err := os.Create(output)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return writeOCI(f, tag, a, mtime)
}

// blob is one file of blobs/sha256/.
type blob struct {
	digest v1.Hash
	size   int64
	open   func() (io.ReadCloser, error)
}

func bytesBlob(digest v1.Hash, b []byte) blob {
	return blob{digest: digest, size: int64(len(b)), open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

// blobsOf lists the blobs of a, manifests before what they name, each once.
func blobsOf(a artifact, seen map[v1.Hash]bool) ([]blob, error) {
	digest, err := a.Digest()
	if err != nil {
		return nil, fmt.Errorf("computing a manifest digest: %w", err)
	}
	if seen[digest] {
		return nil, nil
	}
	seen[digest] = true
	manifest, err := a.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", digest, err)
	}
	out := []blob{bytesBlob(digest, manifest)}
	switch x := a.(type) {
	case v1.ImageIndex:
		im, err := x.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("reading index %s: %w", digest, err)
		}
		for _, d := range im.Manifests {
			img, err := x.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading image %s of index %s: %w", d.Digest, digest, err)
			}
			more, err := blobsOf(img, seen)
			if err != nil {
				return nil, err
			}
			out = append(out, more...)
		}
	case v1.Image:
		config, err := x.RawConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading the image configuration: %w", err)
		}
		configDigest, err := x.ConfigName()
		if err != nil {
			return nil, fmt.Errorf("computing the configuration digest: %w", err)
		}
		if !seen[configDigest] {
			seen[configDigest] = true
			out = append(out, bytesBlob(configDigest, config))
		}
		layers, err := x.Layers()
		if err != nil {
			return nil, fmt.Errorf("listing the layers: %w", err)
		}
		for _, l := range layers {
			d, err := l.Digest()
			if err != nil {
				return nil, fmt.Errorf("computing a layer digest: %w", err)
			}
			if seen[d] {
				continue
			}
			seen[d] = true
			size, err := l.Size()
			if err != nil {
				return nil, fmt.Errorf("reading the size of layer %s: %w", d, err)
			}
			out = append(out, blob{digest: d, size: size, open: l.Compressed})
		}
	default:
		return nil, fmt.Errorf("%s is neither an image nor an index", digest)
	}
	return out, nil
}

func writeOCI(w io.Writer, tag name.Tag, a artifact, mtime time.Time) error {
	manifest, err := a.RawManifest()
	if err != nil {
		return fmt.Errorf("reading the manifest: %w", err)
	}
	mediaType, err := a.MediaType()
	if err != nil {
		return fmt.Errorf("reading the manifest's media type: %w", err)
	}
	digest, err := a.Digest()
	if err != nil {
		return fmt.Errorf("computing the digest: %w", err)
	}
	blobs, err := blobsOf(a, map[v1.Hash]bool{})
	if err != nil {
		return err
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
	for _, b := range blobs {
		rc, err := b.open()
		if err != nil {
			return fmt.Errorf("reading blob %s: %w", b.digest, err)
		}
		err = file("blobs/"+b.digest.Algorithm+"/"+b.digest.Hex, b.size, rc)
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
