package spaces

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMove(t *testing.T) {
	for _, tc := range []struct {
		arg, current string
		want         Move
		err          string
	}{
		{arg: "root", current: "root:imw1", want: Move{Path: "root"}},
		{arg: "root:imw1", current: "root", want: Move{Path: "root:imw1"}},
		{arg: "imw1", current: "root", want: Move{Path: "root:imw1"}},
		{arg: "imw-2", current: "root:wmw1", want: Move{Path: "root:imw-2"}},
		// A name that starts with "root" is a name, not a path.
		{arg: "rooty", current: "root", want: Move{Path: "root:rooty"}},
		{arg: "root-1", current: "root", want: Move{Path: "root:root-1"}},
		{arg: "root:rooty", current: "root", want: Move{Path: "root:rooty"}},
		{arg: "~", current: "root:imw1", want: Move{Path: "root"}},
		{arg: "~", current: "", want: Move{Path: "root"}},
		{arg: "-", current: "root:imw1", want: Move{Previous: true}},
		{arg: ".", current: "root:imw1", want: Move{Path: "root:imw1"}},
		{arg: ".", current: "", err: "addresses no space"},
		{arg: "..", current: "root:imw1", want: Move{Path: "root"}},
		{arg: "..", current: "root", err: `space "root" has no parent`},
		{arg: "..", current: "", err: `space "" has no parent`},
		{arg: "", current: "root", err: "is required"},
		{arg: "Imw", current: "root", err: `space name "Imw" must be a DNS label`},
		{arg: "other:x", current: "root", err: `space path "other:x" must be "root", "root:NAME" or a NAME under root`},
		{arg: "root:", current: "root", err: `"" must be a DNS label`},
		{arg: "root:a:b", current: "root", err: `"a:b" must be a DNS label`},
		{arg: "rooty:x", current: "root", err: `must be "root", "root:NAME"`},
	} {
		got, err := ParseMove(tc.arg, tc.current)
		if tc.err != "" {
			require.Error(t, err, "%q from %q", tc.arg, tc.current)
			assert.Contains(t, err.Error(), tc.err, "%q from %q", tc.arg, tc.current)
			continue
		}
		require.NoError(t, err, "%q from %q", tc.arg, tc.current)
		assert.Equal(t, tc.want, got, "%q from %q", tc.arg, tc.current)
	}
}

func TestResolvePath(t *testing.T) {
	for in, want := range map[string]string{
		"root":       "root",
		"root:imw-1": "root:imw-1",
		"imw-1":      "root:imw-1",
		"rooty":      "root:rooty",
	} {
		got, err := ResolvePath(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "root:", "a:b", "Bad_Name", "root:x:y"} {
		_, err := ResolvePath(bad)
		assert.Error(t, err, bad)
	}
}
