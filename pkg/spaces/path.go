package spaces

import (
	"errors"
	"fmt"
	"strings"
)

// HomePath is where `ws ~` leads. kcp gives each user a home workspace; spaces have no
// per-user home, so home is the root space.
const HomePath = RootPath

// ResolvePath turns what a user types for a space into its path: "root", a path
// "root:NAME", or a bare NAME, which is the child NAME of root (so "imw1" and "rooty" are
// root:imw1 and root:rooty).
func ResolvePath(s string) (string, error) {
	switch {
	case s == "":
		return "", errors.New("a space path (root:NAME) or name is required")
	case s == RootPath || strings.HasPrefix(s, RootPath+":"):
		return s, ValidatePath(s)
	case strings.Contains(s, ":"):
		return "", fmt.Errorf("space path %q must be %q, %q or a NAME under root", s, RootPath, RootPath+":NAME")
	}
	path := ChildPath(s)
	if err := ValidatePath(path); err != nil {
		return "", fmt.Errorf("space name %q must be a DNS label (lowercase letters, digits and '-', at most 63 characters)", s)
	}
	return path, nil
}

// Move is where an argument of `ws` leads.
type Move struct {
	// Path is the space to go to; empty when Previous is set.
	Path string
	// Previous asks for the space the context was in before the current one ("-").
	Previous bool
}

// ParseMove reads an argument of `ws`, given the current space's path (empty when the
// context addresses none): "." is the current space, ".." its parent, "~" home (root), "-"
// the previous space, and anything else a path or a name under root, as ResolvePath reads it.
func ParseMove(arg, current string) (Move, error) {
	switch arg {
	case "-":
		return Move{Previous: true}, nil
	case "~":
		return Move{Path: HomePath}, nil
	case ".":
		if current == "" {
			return Move{}, errors.New("the current context addresses no space (its server URL has no /clusters/<path>)")
		}
		return Move{Path: current}, nil
	case "..":
		if current == "" || current == RootPath {
			return Move{}, fmt.Errorf("space %q has no parent", current)
		}
		i := strings.LastIndex(current, ":")
		if i < 0 {
			return Move{}, fmt.Errorf("space %q has no parent", current)
		}
		return Move{Path: current[:i]}, nil
	}
	path, err := ResolvePath(arg)
	if err != nil {
		return Move{}, err
	}
	return Move{Path: path}, nil
}
