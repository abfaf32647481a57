package server

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/apiserver/pkg/authentication/authenticator"
)

// verifiedChains remembers the identities of client certificate chains its authenticator has
// accepted, so that a client's chain is verified once, not on every request: the signature
// checks were two thirds of the front proxy's own CPU per request. What a chain's verification
// depends on besides the chain is fixed for the authenticator's life (its CA pool, its key
// usages) except the time, so an entry lasts at most verifiedChainsTTL and never past the
// NotAfter of any certificate in the chain. Refusals are not remembered: a chain refused is
// verified again.
type verifiedChains struct {
	authn authenticator.Request
	clock cache.Clock
	seen  *cache.LRUExpireCache
}

// verifiedChainsSize bounds the chains remembered; one forgotten costs one verification.
const verifiedChainsSize = 4096

// verifiedChainsTTL bounds how long a chain is taken as verified; a CA that expires or a
// clock set back is noticed within it.
const verifiedChainsTTL = time.Minute

func newVerifiedChains(authn authenticator.Request, clock cache.Clock) *verifiedChains {
	return &verifiedChains{authn: authn, clock: clock, seen: cache.NewLRUExpireCacheWithClock(verifiedChainsSize, clock)}
}

// AuthenticateRequest answers as the authenticator it wraps would.
func (v *verifiedChains) AuthenticateRequest(r *http.Request) (*authenticator.Response, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return v.authn.AuthenticateRequest(r)
	}
	key := chainKey(r.TLS.PeerCertificates)
	if resp, ok := v.seen.Get(key); ok {
		return resp.(*authenticator.Response), true, nil
	}
	resp, ok, err := v.authn.AuthenticateRequest(r)
	if err != nil || !ok {
		return resp, ok, err
	}
	ttl, now := verifiedChainsTTL, v.clock.Now()
	for _, cert := range r.TLS.PeerCertificates {
		ttl = min(ttl, cert.NotAfter.Sub(now))
	}
	if ttl > 0 {
		v.seen.Add(key, resp, ttl)
	}
	return resp, true, nil
}

// chainKey identifies a presented chain by its certificates, in order.
func chainKey(chain []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, cert := range chain {
		binary.BigEndian.PutUint64(n[:], uint64(len(cert.Raw)))
		h.Write(n[:])
		h.Write(cert.Raw)
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}
