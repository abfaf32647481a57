package multicluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/types"
)

// A request that keeps failing through a long outage is tried again within RetryMax of the
// end of it, and an outage that fails thousands of requests at once does not queue their
// retries for minutes: controller-runtime's default waits up to 1000s per request, and 10
// retries a second in all.
func TestDefaultRateLimiterBoundsRetries(t *testing.T) {
	limiter := DefaultRateLimiter()
	req := Request{Cluster: "c", NamespacedName: types.NamespacedName{Name: "always-failing"}}
	var last time.Duration
	for range 40 {
		last = limiter.When(req)
	}
	assert.Equal(t, RetryMax, last, "after 40 failures")
	limiter.Forget(req)
	assert.Equal(t, retryFirst, limiter.When(req), "after a success, the first retry is quick again")

	var worst time.Duration
	for i := range 3000 {
		worst = max(worst, limiter.When(Request{Cluster: "c", NamespacedName: types.NamespacedName{Name: fmt.Sprint("req-", i)}}))
	}
	assert.LessOrEqual(t, worst, 21*time.Second, "3,000 requests failing at once are all retried within (3000-burst)/qps")
}
