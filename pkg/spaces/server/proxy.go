package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/transport"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// router resolves a space path to the state of its API server.
type router interface {
	route(path string) (runnerState, bool)
	// loaded says whether route knows every space: before, a path it does not know may
	// still be a space whose runner is yet to start.
	loaded() bool
}

// frontProxy routes /clusters/<path>/... to the API server of the space at path. It
// authenticates client certificates itself and passes the identity on by request-header
// authentication; anything else (bearer tokens, anonymous requests) goes through unchanged
// for the space's API server to judge. Client-supplied X-Remote-* headers never pass.
type frontProxy struct {
	router router
	authn  authenticator.Request
	// replicas, when this server is one of several, says which serves a space it does not;
	// peerAuthn then accepts the identities the other replicas' front proxies assert.
	replicas  *replicas
	peerAuthn authenticator.Request
	ready     func() error
	// asProxy forwards identities asserted by request headers, presenting the front proxy's
	// client certificate; direct forwards everything else as it came, without it, so the
	// space's API server judges tokens and anonymous requests itself.
	asProxy, direct *httputil.ReverseProxy
}

type backendKey struct{}

// maxRequestBody bounds a request body the proxy reads whole before passing it on; it is
// kube-apiserver's own limit for most requests.
const maxRequestBody = 3 << 20

type backend struct {
	url  *url.URL
	path string
}

// newFrontProxy makes the front proxy. frontProxyCert is the client certificate presented
// with asserted identities; it is read from its files, and the proxy changes to a renewed one
// when reloadClientCert is called.
func newFrontProxy(r router, clientCA *x509.CertPool, frontProxyCert *fileCert, backendCA *x509.CertPool, ready func() error) (f *frontProxy, reloadClientCert func() error) {
	withCert := newRotatingTransport(frontProxyCert, func(cert tls.Certificate) *http.Transport {
		return newBackendTransport(backendCA, []tls.Certificate{cert})
	})
	return &frontProxy{
		router: r,
		authn: newVerifiedChains(x509request.New(x509.VerifyOptions{Roots: clientCA, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
			x509request.CommonNameUserConversion), clock.RealClock{}),
		ready:   ready,
		asProxy: newReverseProxy(withCert),
		direct:  newReverseProxy(newBackendTransport(backendCA, nil)),
	}, withCert.reload
}

// newBackendTransport is the transport to the spaces' API servers.
func newBackendTransport(backendCA *x509.CertPool, clientCerts []tls.Certificate) *http.Transport {
	return &http.Transport{
		TLSClientConfig: &tls.Config{
			RootCAs:      backendCA,
			Certificates: clientCerts,
			MinVersion:   tls.VersionTLS12,
		},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}
}

func newReverseProxy(rt http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			b := pr.In.Context().Value(backendKey{}).(backend)
			pr.SetURL(b.url)
			pr.Out.URL.Path = b.path
			pr.Out.URL.RawPath = ""
			pr.Out.Host = b.url.Host
		},
		Transport: rt,
		// Flush at once: watches must reach clients as events happen.
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return
			}
			klog.FromContext(r.Context()).V(2).Info("Proxying failed", "path", r.URL.Path, "err", err)
			writeStatus(w, &apierrors.StatusError{ErrStatus: metav1.Status{
				Status: metav1.StatusFailure, Code: http.StatusBadGateway, Reason: metav1.StatusReasonServiceUnavailable,
				Message: "the space's API server could not be reached: " + err.Error(),
			}})
		},
	}
}

func (f *frontProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/livez", "/healthz":
		_, _ = w.Write([]byte("ok"))
		return
	case "/readyz":
		if err := f.ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
		return
	}

	path, rest, ok := splitClustersPath(r.URL.Path)
	if !ok {
		writeStatus(w, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path+
			" (this server serves spaces at "+spaces.ClustersPrefix+"<path>/..., for example "+spaces.ClustersPrefix+spaces.RootPath+"/api)"))
		return
	}
	state, found := f.router.route(path)
	if !found && f.replicas != nil && r.Header.Get(forwardedHeader) == "" {
		peer, err := f.replicas.peerFor(r.Context(), path)
		switch {
		case err != nil:
			writeUnavailable(w, err.Error())
			return
		case peer != nil:
			// Another replica serves the space: its front proxy gets the request whole, with
			// the identity this one has authenticated.
			f.pass(w, r, peer, r.URL.Path, true)
			return
		}
	}
	if !found {
		if !f.router.loaded() {
			// A 404 would tell clients that the space is gone; it may only not be loaded yet.
			writeUnavailable(w, "the space server is still loading its spaces")
			return
		}
		writeStatus(w, apierrors.NewNotFound(schema.GroupResource{Group: "space.kubestellar.io", Resource: "spaces"}, path))
		return
	}
	if !state.Ready {
		writeUnavailable(w, "space "+path+" is not ready: "+state.Message)
		return
	}
	target, err := url.Parse(state.BackendURL)
	if err != nil {
		writeStatus(w, apierrors.NewInternalError(err))
		return
	}
	f.pass(w, r, target, rest, false)
}

// pass sends r on to path at target: a space's API server, or another replica's front proxy
// (toPeer). A client certificate's identity goes with it by request headers, under the
// front proxy's own certificate; anything else goes as it came.
func (f *frontProxy) pass(w http.ResponseWriter, r *http.Request, target *url.URL, path string, toPeer bool) {
	out := r.Clone(context.WithValue(r.Context(), backendKey{}, backend{url: target, path: path}))
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
		if err != nil {
			writeStatus(w, apierrors.NewBadRequest("reading the request body: "+err.Error()))
			return
		}
		if len(body) > maxRequestBody {
			writeStatus(w, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the request body is larger than %d bytes", maxRequestBody)))
			return
		}
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	stripIdentityHeaders(out.Header)
	out.Header.Del(forwardedHeader)
	if toPeer {
		out.Header.Set(forwardedHeader, f.replicas.self)
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		u, err := f.authenticate(r)
		if err != nil {
			writeStatus(w, apierrors.NewUnauthorized("the client certificate is not valid for this server"))
			return
		}
		transport.SetAuthProxyHeaders(out, u.GetName(), u.GetUID(), u.GetGroups(), u.GetExtra())
		f.asProxy.ServeHTTP(w, out)
		return
	}
	f.direct.ServeHTTP(w, out)
}

// authenticate returns the identity of a request with a client certificate: a user's of the
// server CA, or, from another replica's front proxy, the one it asserts.
func (f *frontProxy) authenticate(r *http.Request) (user.Info, error) {
	if f.peerAuthn != nil {
		if resp, ok, err := f.peerAuthn.AuthenticateRequest(r); err == nil && ok {
			return resp.User, nil
		}
	}
	resp, ok, err := f.authn.AuthenticateRequest(r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("no identity in the client certificate")
	}
	return resp.User, nil
}

// splitClustersPath splits /clusters/<path>/<rest> into the space path and /<rest>.
func splitClustersPath(p string) (string, string, bool) {
	after, ok := strings.CutPrefix(p, spaces.ClustersPrefix)
	if !ok || after == "" {
		return "", "", false
	}
	path, rest, _ := strings.Cut(after, "/")
	return path, "/" + rest, path != ""
}

// stripIdentityHeaders removes every header by which a client could claim an identity to a
// space's API server through request-header authentication.
func stripIdentityHeaders(h http.Header) {
	for key := range h {
		if strings.HasPrefix(http.CanonicalHeaderKey(key), "X-Remote-") {
			delete(h, key)
		}
	}
}

// writeUnavailable answers 503 with a Retry-After header, which clients such as client-go
// honour by retrying.
func writeUnavailable(w http.ResponseWriter, message string) {
	w.Header().Set("Retry-After", "1")
	writeStatus(w, apierrors.NewServiceUnavailable(message))
}

// writeStatus answers with a Kubernetes Status object, which kubectl and client-go show as
// the error's message.
func writeStatus(w http.ResponseWriter, err *apierrors.StatusError) {
	status := err.ErrStatus
	status.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	status.Status = metav1.StatusFailure
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(int(status.Code))
	_ = json.NewEncoder(w).Encode(status)
}
