package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
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
