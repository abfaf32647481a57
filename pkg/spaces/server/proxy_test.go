package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/kubestellar/kubestellar/pkg/kubeapiserver"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
	"github.com/kubestellar/kubestellar/test/framework"
)

// answer is what the front proxy said to one request.
type answer struct {
	code       int
	retryAfter string
	status     metav1.Status
}

// get asks the front proxy for url and decodes the Status it answers, if any.
func get(ctx context.Context, client *http.Client, url string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return answer{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if resp.StatusCode != http.StatusOK {
		_ = json.Unmarshal(body, &a.status)
	}
	return a, nil
}

// TestProxyAnswersUnavailableUntilSpacesLoad restarts a server with a space and asks for
// the space from the moment the port opens: until the server has loaded its Spaces the
// answer is 503 with Retry-After, never 404, which clients take to mean that the space is
// gone.
func TestProxyAnswersUnavailableUntilSpacesLoad(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	srv.CreateSpace("wmw1")
	srv.Stop()

	port, err := kubeapiserver.FreePort(srv.Options.BindAddress)
	require.NoError(t, err)
	srv.Options.SecurePort = port
	base := "https://127.0.0.1:" + strconv.Itoa(port)
	client, err := rest.HTTPClientFor(srv.Config("root:wmw1"))
	require.NoError(t, err)
	client.Timeout = 10 * time.Second
	child := base + "/clusters/root:wmw1/api/v1/namespaces/default"
	unknown := base + "/clusters/root:nope/api/v1/namespaces/default"

	release := make(chan struct{})
	server.HoldSpaceLoadingForTest(srv.Options, release)
	held := make(chan []answer, 1)
	go func() {
		defer close(release)
		var answers []answer
		defer func() { held <- answers }()
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		// The first answers, as soon as the port opens, and a few more while the server is
		// held before loading its Spaces.
		for len(answers) < 5 {
			a, err := get(ctx, client, child)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			answers = append(answers, a)
		}
		if a, err := get(ctx, client, unknown); err == nil {
			answers = append(answers, a)
		}
	}()
	srv.Start()
	answers := <-held

	require.Len(t, answers, 6, "the front proxy answered while the server was held")
	for i, a := range answers {
		assert.Equal(t, http.StatusServiceUnavailable, a.code, "answer %d: %+v", i, a.status)
		assert.NotEmpty(t, a.retryAfter, "answer %d has Retry-After", i)
		assert.Equal(t, "Status", a.status.Kind, "answer %d", i)
		assert.Equal(t, metav1.StatusReasonServiceUnavailable, a.status.Reason, "answer %d", i)
		assert.Contains(t, a.status.Message, "loading its spaces", "answer %d", i)
	}

	// Once loaded, the space answers "not ready" until its API server serves, then serves;
	// it is never "not found".
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		a, err := get(ctx, client, child)
		if err != nil {
			return false, nil //nolint:nilerr // a transient failure to connect
		}
		switch a.code {
		case http.StatusOK:
			return true, nil
		case http.StatusServiceUnavailable:
			if a.retryAfter == "" {
				return false, errors.New("503 without Retry-After")
			}
			return false, nil
		default:
			return false, errors.New("unexpected answer " + strconv.Itoa(a.code) + ": " + a.status.Message)
		}
	})
	require.NoError(t, err, "the space serves after the restart")

	a, err := get(t.Context(), client, unknown)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, a.code, "a space that does not exist, once loaded: %+v", a.status)
	assert.Equal(t, metav1.StatusReasonNotFound, a.status.Reason)
}
