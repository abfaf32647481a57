package spaces

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzSpacePath checks how space paths are read and written: what ResolvePath accepts is a
// valid path that reads back as itself, its name (ChildName, the format) reads back as the
// same path, the URL of a space splits back into the base URL and the path, and the moves
// of `ws` from a valid space lead to valid spaces.
func FuzzSpacePath(f *testing.F) {
	for _, seed := range []struct{ arg, current, base string }{
		{"root", "root:imw1", "https://10.0.0.5:6443"},
		{"imw1", "root", "https://ks.example.org:443/"},
		{"root:imw-1", "root:wmw1", "https://ks.example.org/prefix"},
		{"rooty", "root", "http://localhost:6443"},
		{"..", "root:imw1", "https://h"},
		{".", "root:imw1", "https://h:1/a/b/"},
		{"~", "", "https://h"},
		{"-", "root", "https://h"},
		{"root:", "root", "https://h"},
		{"root:a:b", "root", "https://h"},
		{"Imw", "root", "https://h"},
		{strings.Repeat("a", 64), "root", "https://h"},
		{"a-", "root", "https://h/clusters/root"},
		{"root:a%2Fb", "root", "https://h/x%2Fy"},
	} {
		f.Add(seed.arg, seed.current, seed.base)
	}
	f.Fuzz(func(t *testing.T, arg, current, base string) {
		path, err := ResolvePath(arg)
		if err == nil {
			require.NoError(t, ValidatePath(path), "ResolvePath(%q) = %q", arg, path)
			again, err := ResolvePath(path)
			require.NoError(t, err)
			assert.Equal(t, path, again, "ResolvePath is not idempotent on %q", arg)
			if path != RootPath {
				name, ok := ChildName(path)
				require.True(t, ok, "%q is not a child of root", path)
				assert.Equal(t, path, ChildPath(name))
				fromName, err := ResolvePath(name)
				require.NoError(t, err, "the name %q of %q", name, path)
				assert.Equal(t, path, fromName)
			}
			checkURLRoundTrip(t, base, path)
		} else {
			assert.NotEmpty(t, err.Error())
			if ValidatePath(arg) == nil {
				t.Fatalf("ResolvePath refuses the valid path %q: %v", arg, err)
			}
		}

		move, err := ParseMove(arg, current)
		if err != nil {
			return
		}
		if move.Previous {
			assert.Equal(t, "-", arg)
			assert.Empty(t, move.Path)
			return
		}
		if ValidatePath(current) == nil {
			assert.NoError(t, ValidatePath(move.Path), "ws %q from %q leads to %q", arg, current, move.Path)
		}
	})
}

// checkURLRoundTrip checks that the URL of path under base splits back into both, for a base
// URL such as a kubeconfig has: absolute, with no query, fragment or space path of its own
// (any number of trailing slashes is fine).
func checkURLRoundTrip(t *testing.T, base, path string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		strings.Contains(base, "?") || strings.Contains(base, "#") || strings.Contains(u.Path, strings.TrimSuffix(ClustersPrefix, "/")) ||
		u.String() != base {
		return
	}
	gotBase, gotPath, err := SplitURL(URL(base, path))
	require.NoError(t, err, "the URL of %q under %q", path, base)
	assert.Equal(t, path, gotPath, "the URL of %q under %q", path, base)
	assert.Equal(t, strings.TrimRight(base, "/"), gotBase, "the URL of %q under %q", path, base)
}
