package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// FetchKubeconfig waits until the Secret the core publishes in namespace holds key, then
// returns it. It reports progress while waiting and, on timeout, says what was missing.
func FetchKubeconfig(ctx context.Context, cs kubernetes.Interface, namespace, key string, timeout time.Duration, progress spaces.Progress) ([]byte, error) {
	start := time.Now()
	var lastSaid time.Time
	var state string
	var data []byte
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		secret, err := cs.CoreV1().Secrets(namespace).Get(ctx, SecretName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			state = fmt.Sprintf("Secret %s does not exist in namespace %s (is KubeStellar deployed there? `kubectl kubestellar deploy -n %s ...`)", SecretName, namespace, namespace)
		case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
			return false, fmt.Errorf("reading Secret %s in namespace %s: %w", SecretName, namespace, err)
		case err != nil:
			state = fmt.Sprintf("reading Secret %s in namespace %s: %v", SecretName, namespace, err)
		case len(secret.Data[key]) == 0:
			state = fmt.Sprintf("Secret %s in namespace %s has no %s yet (the init container writes it once the space server is up; `kubectl logs -n %s deploy/%s -c init`)", SecretName, namespace, key, namespace, DeploymentName)
		default:
			data = secret.Data[key]
			return true, nil
		}
		if time.Since(lastSaid) >= progressEvery {
			progress("Waiting (%s): %s", time.Since(start).Round(time.Second), state)
			lastSaid = time.Now()
		}
		return false, nil
	})
	if err != nil {
		if ctx.Err() == nil && !wait.Interrupted(err) {
			return nil, err
		}
		return nil, fmt.Errorf("gave up after %s: %s", timeout, state)
	}
	return data, nil
}

// WriteKubeconfig writes data to path, readable by the owner only, replacing what was there
// in one step so that a reader never sees half a file.
func WriteKubeconfig(path string, data []byte) error {
	if path == "" {
		return errors.New("no output file given")
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
