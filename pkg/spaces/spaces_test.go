package spaces

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
)

func TestValidatePath(t *testing.T) {
	for _, ok := range []string{"root", "root:imw1", "root:a-b", "root:0"} {
		assert.NoError(t, ValidatePath(ok), ok)
	}
	for path, want := range map[string]string{
		"":                                 `must be "root" or start with "root:"`,
		"imw1":                             `must be "root" or start with "root:"`,
		"root:":                            `"" must be a DNS label`,
		"root:Imw":                         `"Imw" must be a DNS label`,
		"root:a:b":                         `"a:b" must be a DNS label`,
		"root:a.b":                         `"a.b" must be a DNS label`,
		"root:-a":                          `"-a" must be a DNS label`,
		"root:" + string(make([]byte, 64)): "must be a DNS label",
	} {
		err := ValidatePath(path)
		require.Error(t, err, path)
		assert.Contains(t, err.Error(), want, path)
	}
}

func TestChildName(t *testing.T) {
	name, ok := ChildName("root:imw1")
	assert.True(t, ok)
	assert.Equal(t, "imw1", name)
	for _, p := range []string{"root", "root:", "root:a:b", "other:x"} {
		_, ok := ChildName(p)
		assert.False(t, ok, p)
	}
	assert.Equal(t, "root:wmw1", ChildPath("wmw1"))
}

func TestConfigFor(t *testing.T) {
	base := &rest.Config{Host: "https://localhost:6443/", BearerToken: "t"}
	cfg := ConfigFor(base, "root:espw")
	assert.Equal(t, "https://localhost:6443/clusters/root:espw", cfg.Host)
	assert.Equal(t, "t", cfg.BearerToken)
	assert.Equal(t, "https://localhost:6443/", base.Host, "the base configuration is not changed")
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, err := NewID()
		require.NoError(t, err)
		assert.Regexp(t, regexp.MustCompile(`^[0-9a-z]{16}$`), id)
		assert.False(t, seen[id], "IDs repeat")
		seen[id] = true
	}
}

func TestSplitURL(t *testing.T) {
	for in, want := range map[string][2]string{
		"https://h:6443/clusters/root:imw1": {"https://h:6443", "root:imw1"},
		"https://h:6443/clusters/root":      {"https://h:6443", "root"},
		"https://h:6443":                    {"https://h:6443", ""},
		"https://h:6443/":                   {"https://h:6443", ""},
		"https://h:6443//":                  {"https://h:6443", ""},
		"https://h/prefix//clusters/root":   {"https://h/prefix", "root"},
		"https://h/prefix/clusters/root:x/": {"https://h/prefix", "root:x"},
	} {
		base, path, err := SplitURL(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, [2]string{base, path}, in)
	}
}
