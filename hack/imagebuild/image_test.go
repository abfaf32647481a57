package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuildWritesAnImportableTarball(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "server")
	require.NoError(t, os.WriteFile(bin, []byte("#!not-really-a-binary\n"), 0o700))
	conf := filepath.Join(dir, "conf")
	require.NoError(t, os.WriteFile(conf, []byte("key: value\n"), 0o600))
	mode := int64(0o444)
	spec := Spec{
		Ref:        "localhost/kubestellar/test:1.0",
		Entrypoint: "/usr/local/bin/server",
		Cmd:        []string{"--port", "8080"},
		Files: []File{
			{Src: bin, Dest: "/usr/local/bin/server"},
			{Src: conf, Dest: "/etc/server/conf", Mode: &mode},
		},
		Dirs:       []Dir{{Dest: "/var/lib/server", Mode: 0o700, UID: 65532, GID: 65532}},
		UID:        65532,
		GID:        65532,
		Env:        []KeyValue{{Key: "GREETING", Value: "hi"}},
		Labels:     []KeyValue{{Key: "org.opencontainers.image.title", Value: "test"}},
		WorkingDir: "/",
		OS:         "linux",
		Arch:       "amd64",
		Created:    time.Unix(0, 0).UTC(),
		Passwd:     true,
	}
	out := filepath.Join(dir, "image.tar")
	digest, err := Build(spec, out)
	require.NoError(t, err)

	tag, err := name.NewTag(spec.Ref)
	require.NoError(t, err)
	img, err := tarball.ImageFromPath(out, &tag)
	require.NoError(t, err)
	got, err := img.Digest()
	require.NoError(t, err)
	assert.Equal(t, digest, got.String())

	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, []string{"/usr/local/bin/server"}, cfg.Config.Entrypoint)
	assert.Equal(t, []string{"--port", "8080"}, cfg.Config.Cmd)
	assert.Equal(t, "65532:65532", cfg.Config.User)
	assert.Equal(t, []string{"PATH=" + defaultPath, "GREETING=hi"}, cfg.Config.Env)
	assert.Equal(t, "test", cfg.Config.Labels["org.opencontainers.image.title"])
	assert.Equal(t, "linux", cfg.OS)
	assert.Equal(t, "amd64", cfg.Architecture)

	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1)
	rc, err := layers[0].Uncompressed()
	require.NoError(t, err)
	defer func() { _ = rc.Close() }()
	type item struct {
		mode     int64
		uid, gid int
		typ      byte
		content  string
	}
	items := map[string]item{}
	var order []string
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(tr)
		require.NoError(t, err)
		items[hdr.Name] = item{mode: hdr.Mode, uid: hdr.Uid, gid: hdr.Gid, typ: hdr.Typeflag, content: string(body)}
		order = append(order, hdr.Name)
	}
	assert.Equal(t, item{mode: 0o700, typ: tar.TypeReg, content: "#!not-really-a-binary\n"}, items["usr/local/bin/server"])
	assert.Equal(t, item{mode: 0o444, typ: tar.TypeReg, content: "key: value\n"}, items["etc/server/conf"])
	assert.Equal(t, item{mode: 0o755, typ: tar.TypeDir}, items["usr/local/bin/"])
	assert.Equal(t, item{mode: 0o1777, typ: tar.TypeDir}, items["tmp/"])
	assert.Equal(t, item{mode: 0o700, uid: 65532, gid: 65532, typ: tar.TypeDir}, items["var/lib/server/"])
	assert.Contains(t, items["etc/passwd"].content, "nonroot:x:65532:65532:")
	assert.Contains(t, items["etc/group"].content, "nonroot:x:65532:")
	assert.Less(t, indexOf(order, "usr/"), indexOf(order, "usr/local/"), "parents come first")

	// The same inputs give the same image.
	again, err := Build(spec, filepath.Join(dir, "again.tar"))
	require.NoError(t, err)
	assert.Equal(t, digest, again)
}

func TestBuildRejectsBadSpecs(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.WriteFile(bin, []byte("x"), 0o755))
	base := Spec{Ref: "localhost/x:1", Entrypoint: "/bin", Files: []File{{Src: bin, Dest: "/bin"}}}
	for name, mutate := range map[string]func(*Spec){
		"bad ref":               func(s *Spec) { s.Ref = "Not A Ref" },
		"ref without a tag":     func(s *Spec) { s.Ref = "localhost/x" },
		"unknown format":        func(s *Spec) { s.Format = "zip" },
		"relative entrypoint":   func(s *Spec) { s.Entrypoint = "bin" },
		"entrypoint not copied": func(s *Spec) { s.Entrypoint = "/other" },
		"missing source":        func(s *Spec) { s.Files[0].Src = filepath.Join(dir, "missing") },
		"duplicate destination": func(s *Spec) { s.Files = append(s.Files, File{Src: bin, Dest: "/bin"}) },
		"unclean destination":   func(s *Spec) { s.Files = append(s.Files, File{Src: bin, Dest: "/a/../b"}) },
	} {
		t.Run(name, func(t *testing.T) {
			s := base
			s.Files = append([]File(nil), base.Files...)
			mutate(&s)
			_, err := Build(s, filepath.Join(dir, "out.tar"))
			assert.Error(t, err)
		})
	}
}

func TestParseFlags(t *testing.T) {
	f, err := parseFileFlag("a:/b:0640")
	require.NoError(t, err)
	assert.Equal(t, "a", f.Src)
	assert.Equal(t, "/b", f.Dest)
	require.NotNil(t, f.Mode)
	assert.Equal(t, int64(0o640), *f.Mode)
	_, err = parseFileFlag("a")
	assert.Error(t, err)
	_, err = parseFileFlag("a:/b:999")
	assert.Error(t, err)

	d, err := parseDirFlag("/data:0700:65532:65532")
	require.NoError(t, err)
	assert.Equal(t, Dir{Dest: "/data", Mode: 0o700, UID: 65532, GID: 65532}, d)
	_, err = parseDirFlag("/data:0700:1")
	assert.Error(t, err)

	uid, gid, err := parseIDs("65532:65533")
	require.NoError(t, err)
	assert.Equal(t, []int{65532, 65533}, []int{uid, gid})
	_, _, err = parseIDs("nonroot")
	assert.Error(t, err)

	created, err := parseCreated("", "86400")
	require.NoError(t, err)
	assert.Equal(t, time.Unix(86400, 0).UTC(), created)
	created, err = parseCreated("", "")
	require.NoError(t, err)
	assert.Equal(t, time.Unix(0, 0).UTC(), created)
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// testSpec returns a small image's spec whose entrypoint is a file in dir.
func testSpec(t *testing.T, dir, ref, format string) Spec {
	t.Helper()
	bin := filepath.Join(dir, "server")
	if _, err := os.Stat(bin); err != nil {
		require.NoError(t, os.WriteFile(bin, []byte("#!not-really-a-binary\n"), 0o755))
	}
	return Spec{
		Ref:        ref,
		Entrypoint: "/usr/local/bin/server",
		Files:      []File{{Src: bin, Dest: "/usr/local/bin/server"}},
		UID:        65532,
		GID:        65532,
		WorkingDir: "/",
		OS:         "linux",
		Arch:       "amd64",
		Created:    time.Unix(0, 0).UTC(),
		Passwd:     true,
		Format:     format,
	}
}

func TestBuildOCIWritesAnImageLayoutNamedByItsReference(t *testing.T) {
	dir := t.TempDir()
	spec := testSpec(t, dir, "ghcr.io/kubestellar/kubestellar/test:v1.2.3", FormatOCI)
	out := filepath.Join(dir, "test.tar")
	digest, err := Build(spec, out)
	require.NoError(t, err)

	f, err := os.Open(out)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	entries := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		assert.Equal(t, time.Unix(0, 0).UTC(), hdr.ModTime.UTC(), hdr.Name)
		body, err := io.ReadAll(tr)
		require.NoError(t, err)
		entries[hdr.Name] = body
	}
	assert.JSONEq(t, `{"imageLayoutVersion":"1.0.0"}`, string(entries["oci-layout"]))
	var index v1.IndexManifest
	require.NoError(t, json.Unmarshal(entries["index.json"], &index))
	require.Len(t, index.Manifests, 1)
	assert.Equal(t, digest, index.Manifests[0].Digest.String())
	assert.Equal(t, "ghcr.io/kubestellar/kubestellar/test:v1.2.3", index.Manifests[0].Annotations["io.containerd.image.name"])
	assert.Equal(t, "v1.2.3", index.Manifests[0].Annotations["org.opencontainers.image.ref.name"])
	assert.Contains(t, entries, "blobs/sha256/"+index.Manifests[0].Digest.Hex)

	img, cleanup, err := ReadImage(out)
	require.NoError(t, err)
	defer cleanup()
	got, err := img.Digest()
	require.NoError(t, err)
	assert.Equal(t, digest, got.String())
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "65532:65532", cfg.Config.User)
	assert.Equal(t, []string{"/usr/local/bin/server"}, cfg.Config.Entrypoint)
	mt, err := img.MediaType()
	require.NoError(t, err)
	assert.Equal(t, types.OCIManifestSchema1, mt)
	assert.Equal(t, types.OCIManifestSchema1, index.Manifests[0].MediaType)
	m, err := img.Manifest()
	require.NoError(t, err)
	assert.Equal(t, types.OCIConfigJSON, m.Config.MediaType)
	require.Len(t, m.Layers, 1)
	assert.Equal(t, types.OCILayer, m.Layers[0].MediaType)

	// The same inputs give the same bytes, not only the same digest.
	again := filepath.Join(dir, "again.tar")
	_, err = Build(spec, again)
	require.NoError(t, err)
	first, err := os.ReadFile(out)
	require.NoError(t, err)
	second, err := os.ReadFile(again)
	require.NoError(t, err)
	assert.Equal(t, first, second)
}

func TestIfChangedRewritesOnlyWhenAnInputChanges(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "server")
	require.NoError(t, os.WriteFile(bin, []byte("one"), 0o755))
	out := filepath.Join(dir, "image.tar")
	args := func(ref string) []string {
		return []string{"--if-changed", "--format", "oci", "--ref", ref, "--entrypoint", "/server", "--file", bin + ":/server", "--output", out}
	}
	written := func() time.Time {
		info, err := os.Stat(out)
		require.NoError(t, err)
		return info.ModTime()
	}
	digestOf := func() string {
		img, cleanup, err := ReadImage(out)
		require.NoError(t, err)
		defer cleanup()
		d, err := img.Digest()
		require.NoError(t, err)
		return d.String()
	}

	require.NoError(t, run(args("localhost/test/server:v1")))
	first, firstDigest := written(), digestOf()
	// An old time stamp shows whether the next runs write the file again.
	old := first.Add(-time.Hour)
	require.NoError(t, os.Chtimes(out, old, old))

	require.NoError(t, run(args("localhost/test/server:v1")))
	assert.Equal(t, old, written(), "unchanged inputs leave the tarball alone")

	// The same content written again (a relinked, identical binary) is no change.
	require.NoError(t, os.WriteFile(bin, []byte("one"), 0o755))
	require.NoError(t, run(args("localhost/test/server:v1")))
	assert.Equal(t, old, written())

	require.NoError(t, run(args("localhost/test/server:v2")))
	assert.NotEqual(t, old, written(), "a new reference is written")
	assert.Equal(t, firstDigest, digestOf(), "the reference is not part of the image")

	require.NoError(t, os.Chtimes(out, old, old))
	require.NoError(t, os.WriteFile(bin, []byte("two"), 0o755))
	require.NoError(t, run(args("localhost/test/server:v2")))
	assert.NotEqual(t, old, written(), "new content is written")
	assert.NotEqual(t, firstDigest, digestOf())

	// A tarball changed behind imagebuild's back is written again.
	require.NoError(t, os.WriteFile(out, []byte("garbage"), 0o644))
	require.NoError(t, run(args("localhost/test/server:v2")))
	assert.NotEqual(t, firstDigest, digestOf())
}

func TestPushUploadsTheImageUnchanged(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	for _, format := range []string{FormatOCI, FormatDocker} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			// Built for one registry, pushed to another: the reference is not part of the image.
			spec := testSpec(t, dir, "ghcr.io/kubestellar/kubestellar/test:v0.0.0-dev", format)
			out := filepath.Join(dir, "test.tar")
			digest, err := Build(spec, out)
			require.NoError(t, err)

			tag, err := name.NewTag(host + "/kubestellar/kubestellar/test-" + format + ":v0.0.0-dev")
			require.NoError(t, err)
			pushed, err := Push(context.Background(), out, tag)
			require.NoError(t, err)
			assert.Equal(t, digest, pushed)

			img, err := remote.Image(tag)
			require.NoError(t, err)
			got, err := img.Digest()
			require.NoError(t, err)
			assert.Equal(t, digest, got.String())
			cfg, err := img.ConfigFile()
			require.NoError(t, err)
			assert.Equal(t, "65532:65532", cfg.Config.User)
			assert.Equal(t, []string{"/usr/local/bin/server"}, cfg.Config.Entrypoint)
			layers, err := img.Layers()
			require.NoError(t, err)
			require.Len(t, layers, 1)
			rc, err := layers[0].Uncompressed()
			require.NoError(t, err)
			defer func() { _ = rc.Close() }()
			tr := tar.NewReader(rc)
			var server string
			for {
				hdr, err := tr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				if hdr.Name == "usr/local/bin/server" {
					b, err := io.ReadAll(tr)
					require.NoError(t, err)
					server = string(b)
				}
			}
			assert.Equal(t, "#!not-really-a-binary\n", server)
		})
	}
}

func TestMultiPlatformIndexHasOneImagePerPlatform(t *testing.T) {
	dir := t.TempDir()
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}, {OS: "linux", Architecture: "s390x"}}
	var list []string
	for _, p := range platforms {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, p.OS+"_"+p.Architecture), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, p.OS+"_"+p.Architecture, "server"), []byte("server for "+p.Architecture), 0o755))
		list = append(list, p.OS+"/"+p.Architecture)
	}
	out := filepath.Join(dir, "syncer.tar")
	const ref = "ghcr.io/kubestellar/kubestellar/syncer:v1.2.3"
	args := []string{"--if-changed", "--format", "oci", "--platform", strings.Join(list, ","), "--ref", ref,
		"--entrypoint", "/usr/local/bin/server", "--file", filepath.Join(dir, "{os}_{arch}", "server") + ":/usr/local/bin/server", "--output", out}
	require.NoError(t, run(args))

	// index.json names one index, by the reference.
	f, err := os.Open(out)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	var top v1.IndexManifest
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		require.NoError(t, err, "index.json in the tarball")
		if hdr.Name == "index.json" {
			require.NoError(t, json.NewDecoder(tr).Decode(&top))
			break
		}
	}
	require.Len(t, top.Manifests, 1)
	assert.Equal(t, types.OCIImageIndex, top.Manifests[0].MediaType)
	assert.Equal(t, ref, top.Manifests[0].Annotations["io.containerd.image.name"])

	idx, cleanup, err := ReadIndex(out)
	require.NoError(t, err)
	defer cleanup()
	digest, err := idx.Digest()
	require.NoError(t, err)
	assert.Equal(t, top.Manifests[0].Digest, digest)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, len(platforms), "one image per platform")
	for i, d := range im.Manifests {
		require.NotNil(t, d.Platform, "the index says each image's platform")
		assert.Equal(t, platforms[i], *d.Platform)
		assert.Equal(t, types.OCIManifestSchema1, d.MediaType)
		img, err := idx.Image(d.Digest)
		require.NoError(t, err)
		cfg, err := img.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, platforms[i].OS, cfg.OS, "the config of %s says its OS", d.Digest)
		assert.Equal(t, platforms[i].Architecture, cfg.Architecture, "the config of %s says its architecture", d.Digest)
		assert.Equal(t, []string{"/usr/local/bin/server"}, cfg.Config.Entrypoint)
		assert.Equal(t, "server for "+platforms[i].Architecture, layerFile(t, img, "usr/local/bin/server"), "each image holds its own platform's binary")
	}

	// Unchanged inputs leave the tarball alone; the same inputs give the same index.
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	require.NoError(t, os.Chtimes(out, old, old))
	require.NoError(t, run(args))
	info, err := os.Stat(out)
	require.NoError(t, err)
	assert.Equal(t, old, info.ModTime())
	require.NoError(t, os.Remove(out))
	require.NoError(t, run(args))
	again, cleanupAgain, err := ReadIndex(out)
	require.NoError(t, err)
	defer cleanupAgain()
	againDigest, err := again.Digest()
	require.NoError(t, err)
	assert.Equal(t, digest, againDigest)

	// Pushed, the registry serves the index and, per platform, that platform's image.
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	tag, err := name.NewTag(strings.TrimPrefix(srv.URL, "http://") + "/kubestellar/syncer:v1.2.3")
	require.NoError(t, err)
	pushed, err := Push(context.Background(), out, tag)
	require.NoError(t, err)
	assert.Equal(t, digest.String(), pushed)
	for _, p := range platforms {
		img, err := remote.Image(tag, remote.WithPlatform(p))
		require.NoError(t, err)
		cfg, err := img.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, p.Architecture, cfg.Architecture)
	}
}

func TestMultiPlatformNeedsOCIAndDistinctPlatforms(t *testing.T) {
	dir := t.TempDir()
	amd := testSpec(t, dir, "localhost/x:1", FormatDocker)
	arm := amd
	arm.Arch = "arm64"
	_, err := BuildIndex([]Spec{amd, arm}, filepath.Join(dir, "out.tar"))
	assert.ErrorContains(t, err, "use --format oci")
	amd.Format, arm.Format = FormatOCI, FormatOCI
	_, err = BuildIndex([]Spec{amd, amd}, filepath.Join(dir, "out.tar"))
	assert.ErrorContains(t, err, "--platform linux/amd64 is given twice")
	other := arm
	other.Ref = "localhost/y:1"
	_, err = BuildIndex([]Spec{amd, other}, filepath.Join(dir, "out.tar"))
	assert.ErrorContains(t, err, "share one --ref")
}

// layerFile returns the content of one file of an image's single layer.
func layerFile(t *testing.T, img v1.Image, name string) string {
	t.Helper()
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1)
	rc, err := layers[0].Uncompressed()
	require.NoError(t, err)
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s is not in the layer", name)
		}
		require.NoError(t, err)
		if hdr.Name == name {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			return string(b)
		}
	}
}
