package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	admissionregistrationclient "k8s.io/client-go/kubernetes/typed/admissionregistration/v1"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/combinedstatus"
)

// WebhookConfigurationName names the ValidatingWebhookConfiguration that the space server
// keeps in every workload management space.
const WebhookConfigurationName = "kubestellar-space-server"

// statusCollectorWebhookName names the webhook, within that configuration, that checks
// StatusCollectors.
const statusCollectorWebhookName = "statuscollectors.edge.kubestellar.io"

// statusCollectorPath is where the webhook server serves the StatusCollector check.
const statusCollectorPath = "/validate/statuscollectors"

// webhookTimeoutSeconds is how long a space's API server waits for the webhook; compiling
// a collector's few expressions takes milliseconds.
const webhookTimeoutSeconds = 5

// webhookServer serves, on loopback only, the admission webhooks that the spaces' API
// servers (on the same host, or in the same pod) call.
type webhookServer struct {
	// url is the StatusCollector webhook's URL.
	url string
	// caBundle verifies the server's serving certificate.
	caBundle []byte
	// cert is the serving certificate, followed through renewals by reloadCert.
	cert *fileCert
	srv  *http.Server
	// done receives the error that ended serving.
	done chan error
}

// reloadCert serves the certificate in the files from now on, when it changed.
func (w *webhookServer) reloadCert() error {
	_, err := w.cert.reload()
	return err
}

// startWebhookServer listens on a free loopback port, chosen anew at each start like the
// other internal ports (the configurations in the spaces are brought up to date as each
// space becomes ready), and serves the webhooks with a certificate of the server CA.
func startWebhookServer(ctx context.Context, p *PKI) (*webhookServer, error) {
	logger := klog.FromContext(ctx).WithName("webhook")
	if _, err := ensureWebhookServing(p); err != nil {
		return nil, err
	}
	// Read from the files at every change, so that the renewed certificate is served.
	cert, err := newFileCert(p.webhookServingCert(), p.webhookServingKey())
	if err != nil {
		return nil, fmt.Errorf("admission webhook serving certificate: %w", err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the admission webhooks: %w", err)
	}
	hook, err := admission.StandaloneWebhook(&admission.Webhook{Handler: newStatusCollectorValidator()},
		admission.StandaloneOptions{Logger: logger})
	if err != nil {
		_ = listener.Close()
		return nil, fmt.Errorf("creating the StatusCollector webhook: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(statusCollectorPath, hook)
	w := &webhookServer{
		url:      "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(listener.Addr().(*net.TCPAddr).Port)) + statusCollectorPath,
		caBundle: p.CA.CertPEM,
		cert:     cert,
		srv: &http.Server{
			Handler: mux,
			TLSConfig: &tls.Config{
				GetCertificate: cert.getCertificate,
				MinVersion:     tls.VersionTLS12,
			},
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          log.New(klogWriter{logger.V(2)}, "", 0),
		},
		done: make(chan error, 1),
	}
	go func() {
		err := w.srv.ServeTLS(listener, "", "")
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		w.done <- err
	}()
	logger.V(1).Info("Serving admission webhooks", "url", w.url)
	return w, nil
}

// stop stops serving.
func (w *webhookServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := w.srv.Shutdown(ctx); err != nil {
		_ = w.srv.Close()
	}
}

// configuration is the ValidatingWebhookConfiguration a workload management space holds.
// Every field the API server would default is given, so that a stored configuration equals
// this one exactly when nothing needs changing.
func (w *webhookServer) configuration() *admissionregistrationv1.ValidatingWebhookConfiguration {
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{
			Name:   WebhookConfigurationName,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "kubestellar-space-server"},
		},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: statusCollectorWebhookName,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				URL:      ptr.To(w.url),
				CABundle: w.caBundle,
			},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule: admissionregistrationv1.Rule{
					APIGroups:   []string{edgev2alpha1.GroupName},
					APIVersions: []string{edgev2alpha1.SchemeGroupVersion.Version},
					Resources:   []string{"statuscollectors"},
					Scope:       ptr.To(admissionregistrationv1.ClusterScope),
				},
			}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			MatchPolicy:             ptr.To(admissionregistrationv1.Equivalent),
			NamespaceSelector:       &metav1.LabelSelector{},
			ObjectSelector:          &metav1.LabelSelector{},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			TimeoutSeconds:          ptr.To[int32](webhookTimeoutSeconds),
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
}

// ensureConfiguration creates the space's webhook configuration, or updates it when it
// differs (a restarted server listens on another port); it writes nothing when it is right.
func (w *webhookServer) ensureConfiguration(ctx context.Context, cfg *rest.Config) error {
	c, err := admissionregistrationclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	configs := c.ValidatingWebhookConfigurations()
	want := w.configuration()
	got, err := configs.Get(ctx, want.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = configs.Create(ctx, want, metav1.CreateOptions{FieldManager: "kubestellar-space-server"})
		return err
	case err != nil:
		return err
	case equality.Semantic.DeepEqual(got.Webhooks, want.Webhooks) && got.Labels["app.kubernetes.io/managed-by"] == want.Labels["app.kubernetes.io/managed-by"]:
		return nil
	}
	got.Webhooks = want.Webhooks
	if got.Labels == nil {
		got.Labels = map[string]string{}
	}
	for k, v := range want.Labels {
		got.Labels[k] = v
	}
	_, err = configs.Update(ctx, got, metav1.UpdateOptions{FieldManager: "kubestellar-space-server"})
	return err
}

// ensureSpaceWebhooks makes a ready workload management space send its StatusCollector
// writes to this server's webhook. It talks to the space's API server directly, not through
// the front proxy, as the server's administrator.
func (r *spaceReconciler) ensureSpaceWebhooks(ctx context.Context, space *spacev1alpha1.Space, state runnerState) error {
	if r.webhook == nil || space.Labels[spacev1alpha1.LabelRole] != spacev1alpha1.RoleWorkload {
		return nil
	}
	p := r.set.env.pki
	cfg := &rest.Config{
		Host:            state.BackendURL,
		TLSClientConfig: p.adminTLS(),
		Timeout:         30 * time.Second,
	}
	if err := r.webhook.ensureConfiguration(ctx, cfg); err != nil {
		return fmt.Errorf("ensuring the webhook configuration %s in space %s: %w", WebhookConfigurationName, space.Name, err)
	}
	return nil
}

// statusCollectorValidator refuses StatusCollectors whose expressions do not compile.
type statusCollectorValidator struct {
	decoder admission.Decoder
}

func newStatusCollectorValidator() *statusCollectorValidator {
	scheme := runtime.NewScheme()
	// Adding known types to a fresh scheme cannot fail.
	_ = edgev2alpha1.AddToScheme(scheme)
	return &statusCollectorValidator{decoder: admission.NewDecoder(scheme)}
}

// Handle implements admission.Handler.
func (v *statusCollectorValidator) Handle(_ context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	collector := &edgev2alpha1.StatusCollector{}
	if err := v.decoder.Decode(req, collector); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decoding the StatusCollector: %w", err))
	}
	if req.Operation == admissionv1.Update {
		// A collector stored before this check existed can still have its metadata
		// changed (labels, finalizers) as long as its spec is left as it is.
		old := &edgev2alpha1.StatusCollector{}
		if err := v.decoder.DecodeRaw(req.OldObject, old); err == nil && equality.Semantic.DeepEqual(old.Spec, collector.Spec) {
			return admission.Allowed("")
		}
	}
	errs := combinedstatus.Validate(&collector.Spec)
	if len(errs) == 0 {
		return admission.Allowed("")
	}
	status := apierrors.NewInvalid(schema.GroupKind{Group: edgev2alpha1.GroupName, Kind: "StatusCollector"}, collector.Name, errs).ErrStatus
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &status}}
}
