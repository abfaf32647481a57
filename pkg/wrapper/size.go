package wrapper

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

// How large a wrapper may be. A wrapper is written to etcd whole, in one request, so it must
// stay under etcd's request limit with everything it carries: the object, the wrapper's own
// metadata and managed fields, and the status the syncer reports into it. The sizes are in
// bytes of JSON, the form in which the API server stores a custom resource such as a
// wrapper; JSON writes '<', '>' and '&' as six bytes each, and '"', '\' and control
// characters as two or six, so an object of markup can take several times its own size.
//
// The arithmetic:
//
//	  1,572,864  EtcdRequestLimit: etcd's default --max-request-bytes, 1.5 MiB
//	-    65,536  MetadataReserve: what Size cannot see, such as the managed-field entries'
//	             own framing, the etcd key and the request's envelope
//	= 1,507,328  MaxSize: the most a wrapper may take, status included, as Size estimates it
//	-   196,608  ReportedStateReserve: room kept for the reported state, 192 KiB
//	= 1,310,720  MaxSpecSize: the most a wrapper may take as the translator writes it
//
// A ConfigMap or Secret, which validation caps at 1 MiB of data, fits in MaxSpecSize unless
// its data is mostly characters that JSON escapes.
const (
	// EtcdRequestLimit is etcd's default bound on one request (--max-request-bytes): a write
	// of a larger object fails with "etcdserver: request is too large".
	EtcdRequestLimit = 1536 * 1024
	// MetadataReserve is the part of EtcdRequestLimit kept for what Size does not count.
	MetadataReserve = 64 * 1024
	// MaxSize is the most a wrapper may take, its reported state included, as Size estimates
	// it: the syncer leaves out a reported state that would take the wrapper past it.
	MaxSize = EtcdRequestLimit - MetadataReserve
	// ReportedStateReserve is the room in MaxSize kept for the reported state of an object
	// the translator wraps.
	ReportedStateReserve = 192 * 1024
	// MaxSpecSize is the most a wrapper may take, as Size estimates it, when the translator
	// writes it (no status yet): the translator refuses to wrap an object whose wrapper would
	// take more.
	MaxSpecSize = MaxSize - ReportedStateReserve
)

// TooLargeError says that a wrapper, or what would go into it, does not fit.
type TooLargeError struct {
	// What is what does not fit: "its wrapper", "its status".
	What string
	// Size is what it would take, in bytes, as Size estimates it.
	Size int
	// Limit is the most it may take.
	Limit int
}

// Error names the size and the limit, and why there is one.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s would take %d bytes (%s) encoded, more than the %d bytes (%s) a wrapper may take (etcd takes at most %d bytes in one write, the reported status included)",
		e.What, e.Size, mebibytes(e.Size), e.Limit, mebibytes(e.Limit), EtcdRequestLimit)
}

func mebibytes(n int) string {
	return fmt.Sprintf("%.2f MiB", float64(n)/(1024*1024))
}

// Size estimates what w takes as stored: its JSON encoding, plus the managed-field entries
// that its object and its reported state add. Those entries are estimated, as a copy from
// a cache has no managed fields (they are stripped there) and a wrapper about to be
// written has none yet; an entry names each field of a map, so an object of many small
// fields adds about as much again.
func Size(w *edgev2alpha1.WrappedObject) (int, error) {
	stripped := *w
	stripped.ManagedFields = nil
	raw, err := json.Marshal(&stripped)
	if err != nil {
		return 0, fmt.Errorf("encoding wrapper %s/%s: %w", w.Namespace, w.Name, err)
	}
	n := len(raw)
	fields, err := fieldsSize(w.Spec.Object.Raw)
	if err != nil {
		return 0, fmt.Errorf("the object in wrapper %s/%s: %w", w.Namespace, w.Name, err)
	}
	n += fields
	if r := w.Status.ReportedState; r != nil && r.Status != nil {
		fields, err := fieldsSize(r.Status.Raw)
		if err != nil {
			return 0, fmt.Errorf("the reported state in wrapper %s/%s: %w", w.Namespace, w.Name, err)
		}
		n += fields
	}
	return n, nil
}

// CheckSize returns a *TooLargeError, about what (the wrapper, or a part of it), when w
// takes more than limit as Size estimates it.
func CheckSize(w *edgev2alpha1.WrappedObject, what string, limit int) error {
	if boundOf(w) <= limit {
		return nil
	}
	n, err := Size(w)
	if err != nil {
		return err
	}
	if n > limit {
		return &TooLargeError{What: what, Size: n, Limit: limit}
	}
	return nil
}

// boundOf is an upper bound of Size(w) that costs no encoding, so that the check of the usual
// small wrapper does not encode it again: every byte of the object's and the status's JSON
// takes at most six bytes once escaped and adds at most four in managed-field entries (a
// one-byte key that JSON escapes, with a one-byte value); the wrapper's own labels,
// annotations and messages the same; and the rest of the wrapper, which KubeStellar writes,
// takes less than wrapperFramingBound.
func boundOf(w *edgev2alpha1.WrappedObject) int {
	n := len(w.Spec.Object.Raw)
	if r := w.Status.ReportedState; r != nil && r.Status != nil {
		n += len(r.Status.Raw)
	}
	for k, v := range w.Labels {
		n += len(k) + len(v)
	}
	for k, v := range w.Annotations {
		n += len(k) + len(v)
	}
	for _, c := range w.Status.Conditions {
		n += len(c.Message) + len(c.Reason)
	}
	if d := w.Status.Drift; d != nil {
		for _, f := range d.Fields {
			n += len(f)
		}
	}
	return 10*n + wrapperFramingBound
}

// wrapperFramingBound bounds what boundOf does not count: field names, names, times and the
// like of a wrapper.
const wrapperFramingBound = 16 * 1024

// fieldsSize estimates the managed-field entries of the JSON document raw: "f:KEY":{}, for
// each key of each map, with JSON's escaping of KEY; lists are atomic in a wrapper (its
// object's schema is open), so their elements have no entries.
func fieldsSize(raw []byte) (int, error) {
	if len(raw) == 0 {
		return 0, nil
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return 0, fmt.Errorf("decoding: %w", err)
	}
	return mapFieldsSize(doc), nil
}

func mapFieldsSize(v any) int {
	m, ok := v.(map[string]any)
	if !ok {
		return 0
	}
	n := 0
	for k, child := range m {
		key, _ := json.Marshal("f:" + k) // a string always encodes
		n += len(key) + len(`:{},`) + mapFieldsSize(child)
	}
	return n
}

// IsTooLarge reports whether err is an API server's refusal of a write for its size: a 413
// (its request body limit, or a patch too large), or etcd's "request is too large", which
// the API server passes on as an internal error.
func IsTooLarge(err error) bool {
	if err == nil {
		return false
	}
	var tooLarge *TooLargeError
	return apierrors.IsRequestEntityTooLargeError(err) || errors.As(err, &tooLarge) ||
		strings.Contains(err.Error(), "request is too large")
}
