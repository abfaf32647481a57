package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// forwardedHeader marks a request one replica passed on to another: the receiving replica
// serves it or answers, and never passes it on again, so that two replicas that disagree
// about a space for a moment cannot send a request back and forth.
const forwardedHeader = "Kubestellar-Forwarded-By"

// errSpacesNotKnownYet says that the replica has not read the Spaces yet.
var errSpacesNotKnownYet = errors.New("the space server is still reading which replica serves which space")

// replicas says which of several space servers serves each space. A lone server is the
// replica named "" with no peers: it serves every space.
type replicas struct {
	self, root string
	peers      map[string]*url.URL
	// spaces reads the Space objects of the root space, once the space controller runs.
	spaces atomic.Pointer[client.Reader]
}

func newReplicas(o *Options) (*replicas, error) {
	r := &replicas{self: o.Replica, root: o.RootReplica, peers: map[string]*url.URL{}}
	for name, peer := range o.Peers {
		u, err := url.Parse(peer)
		if err != nil {
			return nil, fmt.Errorf("--peer %s: %w", name, err)
		}
		r.peers[name] = u
	}
	return r, nil
}

// servesRoot says whether this replica serves the root space.
func (r *replicas) servesRoot() bool { return r.root == r.self }

// several says whether this server is one of several replicas.
func (r *replicas) several() bool { return len(r.peers) > 0 }

// owner is the replica that serves space.
func (r *replicas) owner(space *spacev1alpha1.Space) string {
	if name := space.Labels[spacev1alpha1.LabelReplica]; name != "" {
		return name
	}
	return r.root
}

// owns says whether this replica serves space.
func (r *replicas) owns(space *spacev1alpha1.Space) bool { return r.owner(space) == r.self }

// known says whether name is this replica or one of its peers.
func (r *replicas) known(name string) bool { return name == r.self || r.peers[name] != nil }

// peerFor returns the front proxy of the replica that serves the space at path, or nil when
// that is this one, or when no Space has that path (this replica then says so itself).
func (r *replicas) peerFor(ctx context.Context, path string) (*url.URL, error) {
	if !r.several() {
		return nil, nil
	}
	if path == spaces.RootPath {
		return r.peers[r.root], nil
	}
	name, ok := spaces.ChildName(path)
	if !ok {
		return nil, nil
	}
	reader := r.spaces.Load()
	if reader == nil {
		return nil, errSpacesNotKnownYet
	}
	space := &spacev1alpha1.Space{}
	if err := (*reader).Get(ctx, client.ObjectKey{Name: name}, space); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if errors.As(err, new(*cache.ErrCacheNotStarted)) {
			return nil, errSpacesNotKnownYet
		}
		return nil, fmt.Errorf("reading Space %s: %w", name, err)
	}
	owner := r.owner(space)
	if owner == r.self {
		return nil, nil
	}
	peer := r.peers[owner]
	if peer == nil {
		return nil, fmt.Errorf("space %s is served by replica %q, which is not among this server's --peer flags", path, owner)
	}
	return peer, nil
}

// peerAuthenticator accepts the identity another replica's front proxy asserts with
// request headers, and only from a client certificate of the front proxy CA named as the
// front proxy: the same rule the spaces' API servers apply to this server's front proxy.
func peerAuthenticator(frontProxyCA *x509.CertPool) authenticator.Request {
	verify := x509request.StaticVerifierFn(x509.VerifyOptions{Roots: frontProxyCA, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return headerrequest.NewDynamicVerifyOptionsSecure(verify,
		headerrequest.StaticStringSlice{FrontProxyUser},
		headerrequest.StaticStringSlice{"X-Remote-User"},
		headerrequest.StaticStringSlice{"X-Remote-Uid"},
		headerrequest.StaticStringSlice{"X-Remote-Group"},
		headerrequest.StaticStringSlice{"X-Remote-Extra-"})
}
