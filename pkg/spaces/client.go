package spaces

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
)

// Client works with the spaces of one space server.
type Client struct {
	// Base is the client configuration of the server's base URL.
	Base *rest.Config
	root client.Client
}

// SplitURL splits a server URL such as https://h:6443/clusters/root:imw1 into the base URL
// and the space path ("" when the URL names no space).
func SplitURL(server string) (base, path string, err error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", "", fmt.Errorf("server URL %q: %w", server, err)
	}
	// Cut the path as written, so that the base keeps its escaping (%2F stays %2F).
	before, after, found := strings.Cut(u.EscapedPath(), ClustersPrefix)
	if found {
		if after, err = url.PathUnescape(after); err != nil {
			return "", "", fmt.Errorf("server URL %q: %w", server, err)
		}
		path = strings.Trim(after, "/")
		if u.Path, err = url.PathUnescape(before); err != nil {
			return "", "", fmt.Errorf("server URL %q: %w", server, err)
		}
		u.RawPath = before
	}
	return strings.TrimRight(u.String(), "/"), path, nil
}

// NewClient returns a client for the server that cfg reaches, and the path of the space cfg
// addresses ("" when it addresses none).
func NewClient(cfg *rest.Config) (*Client, string, error) {
	base, path, err := SplitURL(cfg.Host)
	if err != nil {
		return nil, "", err
	}
	baseConfig := rest.CopyConfig(cfg)
	baseConfig.Host = base
	scheme := runtime.NewScheme()
	utilruntime.Must(spacev1alpha1.AddToScheme(scheme))
	root, err := client.New(ConfigFor(baseConfig, RootPath), client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", err
	}
	return &Client{Base: baseConfig, root: root}, path, nil
}

// Config returns the client configuration for the space at path.
func (c *Client) Config(path string) *rest.Config { return ConfigFor(c.Base, path) }

// ErrNotFound says a space does not exist.
var ErrNotFound = errors.New("no such space")

// Get returns the Space object that declares path; root has none, so it returns nil for it.
func (c *Client) Get(ctx context.Context, path string) (*spacev1alpha1.Space, error) {
	if err := ValidatePath(path); err != nil {
		return nil, err
	}
	if path == RootPath {
		return nil, nil
	}
	name, _ := ChildName(path)
	space := &spacev1alpha1.Space{}
	if err := c.root.Get(ctx, client.ObjectKey{Name: name}, space); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("space %s: %w", path, ErrNotFound)
		}
		return nil, fmt.Errorf("reading space %s: %w", path, err)
	}
	return space, nil
}

// ID returns the ID of the space at path.
func (c *Client) ID(ctx context.Context, path string) (string, error) {
	space, err := c.Get(ctx, path)
	if err != nil || space == nil {
		return RootID, err
	}
	if space.Status.Cluster == "" {
		return "", fmt.Errorf("space %s has no ID yet (phase %q)", path, space.Status.Phase)
	}
	return space.Status.Cluster, nil
}

// List returns the paths of every space, root first.
func (c *Client) List(ctx context.Context) ([]string, error) {
	list := &spacev1alpha1.SpaceList{}
	if err := c.root.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing spaces: %w", err)
	}
	paths := make([]string, 0, len(list.Items))
	for _, s := range list.Items {
		paths = append(paths, ChildPath(s.Name))
	}
	sort.Strings(paths)
	return append([]string{RootPath}, paths...), nil
}

// Progress receives one line per step of a long operation.
type Progress func(format string, args ...any)

// Ensure creates the space at path unless it exists, and waits until it is Ready. It reports
// whether it created the space.
func (c *Client) Ensure(ctx context.Context, path string, timeout time.Duration, progress Progress) (bool, error) {
	return c.EnsureWithRole(ctx, path, "", timeout, progress)
}

// EnsureWithRole is Ensure for a space of the given role (a spacev1alpha1.Role* value; ""
// for a general space), which a new space is created with.
func (c *Client) EnsureWithRole(ctx context.Context, path, role string, timeout time.Duration, progress Progress) (bool, error) {
	created, err := c.CreateWithRole(ctx, path, role)
	if err != nil {
		return false, err
	}
	return created, c.WaitReady(ctx, path, timeout, progress)
}

// Create creates the space at path unless it exists, without waiting for it to be Ready. It
// reports whether it created the space.
func (c *Client) Create(ctx context.Context, path string) (bool, error) {
	return c.CreateWithRole(ctx, path, "")
}

// CreateWithRole is Create for a space of the given role (a spacev1alpha1.Role* value; ""
// for a general space). An existing space keeps its role, but one whose API surface lacks
// the workload APIs cannot become a workload management space.
func (c *Client) CreateWithRole(ctx context.Context, path, role string) (bool, error) {
	space, err := c.Get(ctx, path)
	switch {
	case path == RootPath:
		if role == spacev1alpha1.RoleWorkload {
			return false, fmt.Errorf("the root space cannot be a workload management space; name another, such as root:wmw1")
		}
		return false, nil
	case errors.Is(err, ErrNotFound):
		name, _ := ChildName(path)
		space = &spacev1alpha1.Space{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if role != "" {
			space.Labels = map[string]string{spacev1alpha1.LabelRole: role}
		}
		if err := c.root.Create(ctx, space); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return false, nil
			}
			return false, fmt.Errorf("creating space %s: %w", path, err)
		}
		return true, nil
	case err != nil:
		return false, err
	case !space.DeletionTimestamp.IsZero():
		return false, fmt.Errorf("space %s is being deleted; try again once it is gone", path)
	}
	if have := space.Labels[spacev1alpha1.LabelRole]; role == spacev1alpha1.RoleWorkload && have != "" && have != role {
		return false, fmt.Errorf("space %s has the role %q, whose API server does not serve the workload APIs; use another space as the workload management space", path, have)
	}
	return false, nil
}

// WaitReady waits until the space at path is Ready.
func (c *Client) WaitReady(ctx context.Context, path string, timeout time.Duration, progress Progress) error {
	start, last := time.Now(), time.Now()
	var space *spacev1alpha1.Space
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		space, err = c.Get(ctx, path)
		if err != nil {
			return false, nil //nolint:nilerr // keep waiting through transient errors
		}
		if space == nil || space.Status.Phase == spacev1alpha1.SpacePhaseReady {
			return true, nil
		}
		if progress != nil && time.Since(last) > 5*time.Second {
			last = time.Now()
			progress("Waiting for space %s to be Ready (phase %q, %s so far)", path, space.Status.Phase, time.Since(start).Round(time.Second))
		}
		return false, nil
	})
	if err != nil {
		phase := "unknown"
		if space != nil {
			phase = string(space.Status.Phase)
		}
		return fmt.Errorf("space %s is not Ready after %s (phase %s)", path, timeout, phase)
	}
	return nil
}

// Delete deletes the space at path and waits until it is gone. Deleting a space that does
// not exist is not an error; it reports whether there was one.
func (c *Client) Delete(ctx context.Context, path string, timeout time.Duration) (bool, error) {
	if path == RootPath {
		return false, errors.New("the root space cannot be deleted")
	}
	space, err := c.Get(ctx, path)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := c.root.Delete(ctx, space); client.IgnoreNotFound(err) != nil {
		return false, fmt.Errorf("deleting space %s: %w", path, err)
	}
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		_, err := c.Get(ctx, path)
		return errors.Is(err, ErrNotFound), nil
	})
	if err != nil {
		return true, fmt.Errorf("space %s is still there after %s", path, timeout)
	}
	return true, nil
}
