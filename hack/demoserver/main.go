// Command demoserver is a tiny HTTP and HTTPS server used to check a cluster end to end: it
// answers every request with its host name and the protocol the request came in on, logs
// every request to standard output, and serves /healthz for probes. With --https-addr it
// serves TLS with the given certificate, so it can stand for a backend that terminates its
// own TLS behind an ingress in passthrough mode. With --get URL it is a client instead: it
// prints the body of one GET, so that `kubectl exec` can test connectivity from inside a pod.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		log.Printf("demoserver: %v", err)
		os.Exit(1)
	}
}

func run() error {
	httpAddr := flag.String("http-addr", ":8080", "address for plain HTTP; empty to disable")
	httpsAddr := flag.String("https-addr", "", "address for HTTPS; empty to disable")
	certFile := flag.String("tls-cert", "", "PEM certificate (chain) served on --https-addr")
	keyFile := flag.String("tls-key", "", "PEM private key of --tls-cert")
	message := flag.String("message", "hello", "first word of every answer")
	getURL := flag.String("get", "", "instead of serving, GET this URL, print the body and exit")
	caFile := flag.String("ca", "", "with --get: PEM CA bundle to verify the server with (default: the system's)")
	flag.Parse()

	if *getURL != "" {
		return get(*getURL, *caFile)
	}

	host, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("reading the host name: %w", err)
	}
	handler := func(proto string) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = fmt.Fprintln(w, "ok")
		})
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			log.Printf("%s %s %s from %s (sni %q)", proto, r.Method, r.URL.Path, r.RemoteAddr, serverName(r))
			_, _ = fmt.Fprintf(w, "%s from %s over %s\n", *message, host, proto)
		})
		return mux
	}

	var servers []*http.Server
	errs := make(chan error, 2)
	if *httpAddr != "" {
		s := &http.Server{Addr: *httpAddr, Handler: handler("http"), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, s)
		go func() { errs <- serve("HTTP", s.Addr, s.ListenAndServe) }()
	}
	if *httpsAddr != "" {
		if *certFile == "" || *keyFile == "" {
			return errors.New("--https-addr needs --tls-cert and --tls-key")
		}
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("loading the TLS key pair: %w", err)
		}
		s := &http.Server{
			Addr:              *httpsAddr,
			Handler:           handler("https"),
			ReadHeaderTimeout: 10 * time.Second,
			TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		}
		servers = append(servers, s)
		go func() { errs <- serve("HTTPS", s.Addr, func() error { return s.ListenAndServeTLS("", "") }) }()
	}
	if len(servers) == 0 {
		return errors.New("nothing to serve: both --http-addr and --https-addr are empty")
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-errs:
		return err
	case sig := <-stop:
		log.Printf("got %v, shutting down", sig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(ctx); err != nil {
			return fmt.Errorf("shutting down %s: %w", s.Addr, err)
		}
	}
	return nil
}

func get(url, caFile string) error {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("reading --ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--ca %s holds no PEM certificate", caFile)
		}
		tlsConfig.RootCAs = pool
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	resp, err := client.Get(url)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil {
		return fmt.Errorf("reading the answer of %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func serve(kind, addr string, listen func() error) error {
	log.Printf("serving %s on %s", kind, addr)
	if err := listen(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving %s on %s: %w", kind, addr, err)
	}
	return nil
}

func serverName(r *http.Request) string {
	if r.TLS == nil {
		return ""
	}
	return r.TLS.ServerName
}
