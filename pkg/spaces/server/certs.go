package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/fsnotify/fsnotify"
	"k8s.io/klog/v2"
)

// certPair names a certificate file and its key file.
type certPair struct{ Cert, Key string }

// servingCerts chooses the serving certificate by SNI among: the --tls-sni-cert-key pairs,
// then every certificate in the PKI's issued/ directory, then the default certificate. It
// reloads when those files change, so a certificate added to issued/ (for example by
// kubestellar-ensure-kcp-server-creds) is served without a restart. k8s.io/apiserver's
// dynamic certificates reload files too, but only a set fixed at start, hence this.
type servingCerts struct {
	defaultPair certPair
	sniPairs    []certPair
	issuedDir   string
	privateDir  string

	// current holds the loaded certificates, the default one first.
	current atomic.Pointer[[]tls.Certificate]
}

func (s *servingCerts) load() error {
	def, err := tls.LoadX509KeyPair(s.defaultPair.Cert, s.defaultPair.Key)
	if err != nil {
		return fmt.Errorf("loading the serving certificate: %w", err)
	}
	certs := []tls.Certificate{def}
	for _, p := range s.sniPairs {
		c, err := tls.LoadX509KeyPair(p.Cert, p.Key)
		if err != nil {
			return fmt.Errorf("loading --tls-sni-cert-key %s,%s: %w", p.Cert, p.Key, err)
		}
		certs = append(certs, c)
	}
	issued, err := filepath.Glob(filepath.Join(s.issuedDir, "*.crt"))
	if err != nil {
		return err
	}
	for _, certFile := range issued {
		if certFile == s.defaultPair.Cert {
			continue
		}
		keyFile := filepath.Join(s.privateDir, strings.TrimSuffix(filepath.Base(certFile), ".crt")+".key")
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			// A pair being written right now is picked up at the next change.
			if !errors.Is(err, os.ErrNotExist) {
				klog.Background().Info("Skipping a serving certificate that does not load", "cert", certFile, "err", err)
			}
			continue
		}
		certs = append(certs, c)
	}
	s.current.Store(&certs)
	return nil
}

// getCertificate is tls.Config.GetCertificate.
func (s *servingCerts) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	certs := *s.current.Load()
	if hello.ServerName != "" {
		for i := 1; i < len(certs); i++ {
			if hello.SupportsCertificate(&certs[i]) == nil {
				return &certs[i], nil
			}
		}
	}
	return &certs[0], nil
}

// watch reloads the certificates whenever a file in one of their directories changes, until
// ctx ends.
func (s *servingCerts) watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching serving certificates: %w", err)
	}
	dirs := map[string]bool{s.issuedDir: true, s.privateDir: true, filepath.Dir(s.defaultPair.Cert): true}
	for _, p := range s.sniPairs {
		dirs[filepath.Dir(p.Cert)] = true
		dirs[filepath.Dir(p.Key)] = true
	}
	for dir := range dirs {
		if err := w.Add(dir); err != nil {
			w.Close()
			return fmt.Errorf("watching %s: %w", dir, err)
		}
	}
	go func() {
		defer w.Close()
		logger := klog.FromContext(ctx)
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-w.Events:
				if !ok {
					return
				}
				if err := s.load(); err != nil {
					logger.Error(err, "Keeping the previous serving certificates")
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				logger.Error(err, "Watching serving certificates")
			}
		}
	}()
	return nil
}
