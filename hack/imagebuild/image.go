package main

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

const defaultPath = "/usr/local/bin:/usr/bin:/bin"

// Spec describes an image built from scratch.
type Spec struct {
	// Ref is the image reference recorded in the tarball (a tag, e.g. localhost/x/y:1.0).
	Ref string
	// Entrypoint is the absolute path of the program the image runs.
	Entrypoint string
	// Cmd holds the default arguments to the entrypoint.
	Cmd []string
	// Files are copied into the image's single layer.
	Files []File
	// Dirs are created in the layer in addition to the parents of Files.
	Dirs []Dir
	// UID and GID are the numeric user and group the entrypoint runs as.
	UID, GID int
	// Env holds environment variables; PATH defaults to defaultPath.
	Env []KeyValue
	// Labels are recorded in the image configuration.
	Labels []KeyValue
	// WorkingDir is the entrypoint's working directory.
	WorkingDir string
	// OS, Arch and Variant name the platform the image is for.
	OS, Arch, Variant string
	// Created is the time stamped on the configuration and on every layer entry.
	Created time.Time
	// Passwd asks for /etc/passwd and /etc/group naming root and the image's user.
	Passwd bool
	// Format is FormatDocker (when empty) or FormatOCI.
	Format string
}

// File is a file to copy from the build machine into the image.
type File struct {
	// Src is the path on the build machine.
	Src string
	// Dest is the absolute path in the image.
	Dest string
	// Mode, when set, overrides the source's permission bits.
	Mode *int64
}

// Dir is a directory to create in the image.
type Dir struct {
	// Dest is the absolute path in the image.
	Dest string
	// Mode holds the permission bits.
	Mode int64
	// UID and GID own the directory.
	UID, GID int
}

// KeyValue is one environment variable or label.
type KeyValue struct {
	Key, Value string
}

// Formats of the written tarball.
const (
	// FormatDocker is the `docker save` layout: manifest.json, the config and one
	// gzip-compressed tar per layer, the reference as a repo tag.
	FormatDocker = "docker"
	// FormatOCI is an OCI image layout (oci-layout, index.json, blobs/sha256/...) in a tar;
	// index.json names the image by the annotations io.containerd.image.name (the full
	// reference) and org.opencontainers.image.ref.name (the tag).
	FormatOCI = "oci"
)

// Build assembles the image described by spec and writes it to output in spec.Format
// (docker when empty), replacing output only once the whole tarball is written. It returns
// the image digest.
func Build(spec Spec, output string) (string, error) {
	tag, err := validate(spec)
	if err != nil {
		return "", err
	}
	scratch, err := os.MkdirTemp(filepath.Dir(output), ".imagebuild-")
	if err != nil {
		return "", fmt.Errorf("creating a scratch directory next to %s: %w", output, err)
	}
	defer func() { _ = os.RemoveAll(scratch) }()
	img, err := assemble(spec, scratch)
	if err != nil {
		return "", err
	}
	digest, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("computing the image digest: %w", err)
	}
	err = replaceFile(output, func(tmp string) error {
		if spec.Format == FormatOCI {
			return writeOCIToFile(tmp, tag, img, spec.Created)
		}
		return tarball.WriteToFile(tmp, tag, img)
	})
	if err != nil {
		return "", err
	}
	return digest.String(), nil
}

// BuildIndex assembles one image per spec, each for its own platform, and writes them to
// output as one multi-platform image: an OCI image index, named by the specs' common Ref,
// in an OCI image layout in a tar. It returns the index digest.
func BuildIndex(specs []Spec, output string) (string, error) {
	if len(specs) == 0 {
		return "", fmt.Errorf("no platform to build for")
	}
	var tag name.Tag
	seen := map[string]bool{}
	for _, spec := range specs {
		t, err := validate(spec)
		if err != nil {
			return "", err
		}
		tag = t
		if spec.Ref != specs[0].Ref {
			return "", fmt.Errorf("the images of one index share one --ref, not %s and %s", specs[0].Ref, spec.Ref)
		}
		if spec.Format != FormatOCI {
			return "", fmt.Errorf("a multi-platform image is written as an OCI image layout: use --format %s", FormatOCI)
		}
		p := platformString(spec)
		if seen[p] {
			return "", fmt.Errorf("--platform %s is given twice", p)
		}
		seen[p] = true
	}
	scratch, err := os.MkdirTemp(filepath.Dir(output), ".imagebuild-")
	if err != nil {
		return "", fmt.Errorf("creating a scratch directory next to %s: %w", output, err)
	}
	defer func() { _ = os.RemoveAll(scratch) }()
	adds := make([]mutate.IndexAddendum, 0, len(specs))
	for _, spec := range specs {
		img, err := assemble(spec, scratch)
		if err != nil {
			return "", fmt.Errorf("the image for %s: %w", platformString(spec), err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: spec.OS, Architecture: spec.Arch, Variant: spec.Variant},
		}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	digest, err := idx.Digest()
	if err != nil {
		return "", fmt.Errorf("computing the index digest: %w", err)
	}
	if err := replaceFile(output, func(tmp string) error { return writeOCIToFile(tmp, tag, idx, specs[0].Created) }); err != nil {
		return "", err
	}
	return digest.String(), nil
}

// platformString is OS/ARCH[/VARIANT].
func platformString(spec Spec) string {
	p := spec.OS + "/" + spec.Arch
	if spec.Variant != "" {
		p += "/" + spec.Variant
	}
	return p
}

// replaceFile has write fill a temporary file beside output, then moves it into place, so
// that output is never half written.
func replaceFile(output string, write func(tmp string) error) error {
	tmp := output + ".tmp"
	if err := write(tmp); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", output, err)
	}
	if err := os.Rename(tmp, output); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("moving the tarball into place: %w", err)
	}
	return nil
}

// assemble makes the image of spec, its layer compressed into a file in scratch, which must
// stay until the image is written.
func assemble(spec Spec, scratch string) (v1.Image, error) {
	layerFile, err := os.CreateTemp(scratch, "layer-*.tar.gz")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary layer file: %w", err)
	}
	// The layer is compressed once, here, so that computing its digest and writing it do
	// not compress it again; gzip without a name or time in its header keeps it
	// reproducible.
	zw, err := gzip.NewWriterLevel(layerFile, gzip.DefaultCompression)
	if err != nil {
		_ = layerFile.Close()
		return nil, fmt.Errorf("compressing the layer: %w", err)
	}
	if err := writeLayer(zw, spec); err != nil {
		_ = layerFile.Close()
		return nil, err
	}
	if err := zw.Close(); err != nil {
		_ = layerFile.Close()
		return nil, fmt.Errorf("compressing the layer: %w", err)
	}
	if err := layerFile.Close(); err != nil {
		return nil, fmt.Errorf("writing the layer: %w", err)
	}

	// An OCI layout holds OCI manifests; the docker format keeps docker's media types.
	base := empty.Image
	var layerOpts []tarball.LayerOption
	if spec.Format == FormatOCI {
		base = mutate.ConfigMediaType(mutate.MediaType(base, types.OCIManifestSchema1), types.OCIConfigJSON)
		layerOpts = append(layerOpts, tarball.WithMediaType(types.OCILayer))
	}
	layer, err := tarball.LayerFromFile(layerFile.Name(), layerOpts...)
	if err != nil {
		return nil, fmt.Errorf("reading back the layer: %w", err)
	}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Author:    "imagebuild",
			Created:   v1.Time{Time: spec.Created},
			CreatedBy: "imagebuild: " + describeFiles(spec.Files),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("adding the layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image configuration: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = spec.OS, spec.Arch, spec.Variant
	cfg.Created = v1.Time{Time: spec.Created}
	cfg.Author = "imagebuild"
	cfg.Config.Entrypoint = []string{spec.Entrypoint}
	cfg.Config.Cmd = spec.Cmd
	cfg.Config.User = fmt.Sprintf("%d:%d", spec.UID, spec.GID)
	cfg.Config.WorkingDir = spec.WorkingDir
	cfg.Config.Env = envList(spec.Env)
	if len(spec.Labels) > 0 {
		cfg.Config.Labels = map[string]string{}
		for _, l := range spec.Labels {
			cfg.Config.Labels[l.Key] = l.Value
		}
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("setting the image configuration: %w", err)
	}
	return img, nil
}

// validate checks what Build needs of spec and returns its reference.
func validate(spec Spec) (name.Tag, error) {
	tag, err := name.NewTag(spec.Ref, name.StrictValidation)
	if err != nil {
		return name.Tag{}, fmt.Errorf("--ref %q is not a valid image reference with a tag, such as ghcr.io/org/name:v1.0: %w", spec.Ref, err)
	}
	switch spec.Format {
	case "", FormatDocker, FormatOCI:
	default:
		return name.Tag{}, fmt.Errorf("--format %q: want %s or %s", spec.Format, FormatDocker, FormatOCI)
	}
	if !path.IsAbs(spec.Entrypoint) {
		return name.Tag{}, fmt.Errorf("--entrypoint %q must be an absolute path in the image", spec.Entrypoint)
	}
	if len(spec.Files) == 0 {
		return name.Tag{}, fmt.Errorf("at least one --file is required")
	}
	if !containsDest(spec.Files, spec.Entrypoint) {
		return name.Tag{}, fmt.Errorf("--entrypoint %s is not among the --file destinations", spec.Entrypoint)
	}
	return tag, nil
}

// entry is one item of the layer, before it is written.
type entry struct {
	dest     string
	dir      bool
	mode     int64
	uid, gid int
	src      string // file to copy, or ""
	content  []byte // literal content when src is ""
}

// writeLayer writes the layer's tar stream: every directory first (parents before
// children), then the files, each in path order, so the same inputs give the same bytes.
func writeLayer(w io.Writer, spec Spec) error {
	entries := map[string]*entry{}
	addParents := func(p string) {
		for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = &entry{dest: d, dir: true, mode: 0o755}
			}
		}
	}
	add := func(e *entry) error {
		if !path.IsAbs(e.dest) || path.Clean(e.dest) != e.dest || e.dest == "/" {
			return fmt.Errorf("destination %q must be a clean absolute path other than /", e.dest)
		}
		if old, ok := entries[e.dest]; ok && (!old.dir || !e.dir) {
			return fmt.Errorf("destination %s is given twice", e.dest)
		}
		entries[e.dest] = e
		addParents(e.dest)
		return nil
	}

	if err := add(&entry{dest: "/tmp", dir: true, mode: 0o1777}); err != nil {
		return err
	}
	if spec.Passwd {
		passwd, group := accounts(spec.UID, spec.GID)
		for _, e := range []*entry{
			{dest: "/etc/passwd", mode: 0o644, content: passwd},
			{dest: "/etc/group", mode: 0o644, content: group},
		} {
			if err := add(e); err != nil {
				return err
			}
		}
		if spec.UID != 0 {
			if err := add(&entry{dest: "/home/nonroot", dir: true, mode: 0o700, uid: spec.UID, gid: spec.GID}); err != nil {
				return err
			}
		}
	}
	for _, d := range spec.Dirs {
		if err := add(&entry{dest: d.Dest, dir: true, mode: d.Mode, uid: d.UID, gid: d.GID}); err != nil {
			return fmt.Errorf("--dir: %w", err)
		}
	}
	for _, f := range spec.Files {
		info, err := os.Stat(f.Src)
		if err != nil {
			return fmt.Errorf("--file %s: %w", f.Src, err)
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("--file %s: not a regular file", f.Src)
		}
		mode := int64(info.Mode().Perm())
		if f.Mode != nil {
			mode = *f.Mode
		}
		if err := add(&entry{dest: f.Dest, mode: mode, src: f.Src}); err != nil {
			return fmt.Errorf("--file: %w", err)
		}
	}

	var dirs, files []*entry
	for _, e := range entries {
		if e.dir {
			dirs = append(dirs, e)
		} else {
			files = append(files, e)
		}
	}
	for _, list := range [][]*entry{dirs, files} {
		sort.Slice(list, func(i, j int) bool { return list[i].dest < list[j].dest })
	}

	tw := tar.NewWriter(w)
	for _, e := range append(dirs, files...) {
		if err := writeEntry(tw, e, spec.Created); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finishing the layer: %w", err)
	}
	return nil
}

func writeEntry(tw *tar.Writer, e *entry, mtime time.Time) error {
	hdr := &tar.Header{
		Name:    strings.TrimPrefix(e.dest, "/"),
		Mode:    e.mode,
		Uid:     e.uid,
		Gid:     e.gid,
		ModTime: mtime,
		Format:  tar.FormatPAX,
	}
	if e.dir {
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("adding directory %s: %w", e.dest, err)
		}
		return nil
	}
	hdr.Typeflag = tar.TypeReg
	if e.src == "" {
		hdr.Size = int64(len(e.content))
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("adding %s: %w", e.dest, err)
		}
		if _, err := tw.Write(e.content); err != nil {
			return fmt.Errorf("adding %s: %w", e.dest, err)
		}
		return nil
	}
	src, err := os.Open(e.src)
	if err != nil {
		return fmt.Errorf("--file %s: %w", e.src, err)
	}
	defer func() { _ = src.Close() }()
	info, err := src.Stat()
	if err != nil {
		return fmt.Errorf("--file %s: %w", e.src, err)
	}
	hdr.Size = info.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("adding %s: %w", e.dest, err)
	}
	n, err := io.Copy(tw, src)
	if err != nil {
		return fmt.Errorf("copying %s to %s: %w", e.src, e.dest, err)
	}
	if n != hdr.Size {
		return fmt.Errorf("copying %s: it changed size while being read", e.src)
	}
	return nil
}

// accounts returns /etc/passwd and /etc/group contents naming root and, when it is not
// root, the image's user as "nonroot".
func accounts(uid, gid int) (passwd, group []byte) {
	p := "root:x:0:0:root:/root:/sbin/nologin\n"
	g := "root:x:0:\n"
	if uid != 0 {
		p += fmt.Sprintf("nonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", uid, gid)
	}
	if gid != 0 {
		g += fmt.Sprintf("nonroot:x:%d:\n", gid)
	}
	return []byte(p), []byte(g)
}

func envList(env []KeyValue) []string {
	out := []string{}
	hasPath := false
	for _, kv := range env {
		if kv.Key == "PATH" {
			hasPath = true
		}
		out = append(out, kv.Key+"="+kv.Value)
	}
	if !hasPath {
		out = append([]string{"PATH=" + defaultPath}, out...)
	}
	return out
}

func containsDest(files []File, dest string) bool {
	for _, f := range files {
		if f.Dest == dest {
			return true
		}
	}
	return false
}

func describeFiles(files []File) string {
	var dests []string
	for _, f := range files {
		dests = append(dests, f.Dest)
	}
	return "copy " + strings.Join(dests, " ")
}
