package deploy

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// transientPrefix starts the state of a look that failed.
const transientPrefix = "could not read "

// progressEvery is how often an unchanged state is reported again while waiting.
const progressEvery = 15 * time.Second

// WaitReady waits until the core's Deployment has rolled out and its pod is Ready, reporting
// progress whenever the state changes (and every 15 s). On timeout it says which containers
// are not ready and why, with the pod's warning events.
func WaitReady(ctx context.Context, cs kubernetes.Interface, namespace string, timeout time.Duration, progress spaces.Progress) error {
	start := time.Now()
	var lastState string
	var lastSaid time.Time
	var state string
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		ready, s, err := readiness(ctx, cs, namespace)
		if err != nil {
			return false, err
		}
		if strings.HasPrefix(s, transientPrefix) && state != "" {
			// A failed look (often the deadline cutting it short) tells less than the last one.
			return false, nil
		}
		state = s
		if ready {
			progress("KubeStellar is ready (%s)", time.Since(start).Round(time.Second))
			return true, nil
		}
		if s != lastState || time.Since(lastSaid) >= progressEvery {
			progress("Waiting for KubeStellar (%s): %s", time.Since(start).Round(time.Second), s)
			lastState, lastSaid = s, time.Now()
		}
		return false, nil
	})
	if err == nil {
		return nil
	}
	if ctx.Err() == nil && !wait.Interrupted(err) {
		return err
	}
	detail := diagnose(context.WithoutCancel(ctx), cs, namespace)
	return fmt.Errorf("KubeStellar in namespace %s was not ready within %s: %s%s", namespace, timeout, state, detail)
}

// readiness reports whether the Deployment is fully rolled out and available, and a one-line
// account of where it stands.
func readiness(ctx context.Context, cs kubernetes.Interface, namespace string) (bool, string, error) {
	d, err := cs.AppsV1().Deployments(namespace).Get(ctx, DeploymentName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, fmt.Sprintf("deployment %s does not exist yet", DeploymentName), nil
	}
	if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
		return false, "", fmt.Errorf("reading deployment %s in namespace %s: %w", DeploymentName, namespace, err)
	}
	if err != nil {
		return false, fmt.Sprintf("%sdeployment %s: %v", transientPrefix, DeploymentName, err), nil
	}
	if rolledOut(d) {
		return true, "", nil
	}
	pods, err := podsOf(ctx, cs, d)
	if err != nil {
		return false, fmt.Sprintf("%sthe pods of deployment %s: %v", transientPrefix, DeploymentName, err), nil
	}
	if len(pods) == 0 {
		return false, "no pod yet", nil
	}
	var parts []string
	for i := range pods {
		parts = append(parts, describePod(&pods[i]))
	}
	return false, strings.Join(parts, "; "), nil
}

// rolledOut is kubectl rollout status's test, plus every wanted replica available.
func rolledOut(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return d.Status.ObservedGeneration >= d.Generation &&
		d.Status.UpdatedReplicas == want && d.Status.Replicas == want && d.Status.AvailableReplicas == want
}

func podsOf(ctx context.Context, cs kubernetes.Interface, d *appsv1.Deployment) ([]corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, err
	}
	list, err := cs.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	pods := slices.DeleteFunc(list.Items, func(p corev1.Pod) bool { return p.DeletionTimestamp != nil })
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods, nil
}

// describePod says, in one line, which containers of the pod are not ready and why.
func describePod(p *corev1.Pod) string {
	if p.Spec.NodeName == "" {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				return fmt.Sprintf("pod %s is not scheduled: %s", p.Name, c.Message)
			}
		}
		return fmt.Sprintf("pod %s is waiting for a node", p.Name)
	}
	var notReady []string
	statuses := append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...)
	for _, s := range statuses {
		if s.Ready {
			continue
		}
		notReady = append(notReady, s.Name+" "+containerState(s))
	}
	if len(notReady) == 0 {
		return fmt.Sprintf("pod %s is %s", p.Name, p.Status.Phase)
	}
	return fmt.Sprintf("pod %s: not ready: %s", p.Name, strings.Join(notReady, ", "))
}

func containerState(s corev1.ContainerStatus) string {
	switch {
	case s.State.Waiting != nil:
		w := s.State.Waiting
		if w.Message != "" {
			return fmt.Sprintf("(waiting: %s: %s)", w.Reason, w.Message)
		}
		return fmt.Sprintf("(waiting: %s)", w.Reason)
	case s.State.Terminated != nil:
		t := s.State.Terminated
		return fmt.Sprintf("(terminated: %s, exit code %d, restarts %d)", t.Reason, t.ExitCode, s.RestartCount)
	case s.State.Running != nil:
		if s.RestartCount > 0 {
			return fmt.Sprintf("(running, not ready yet, restarts %d)", s.RestartCount)
		}
		return "(running, not ready yet)"
	}
	return "(no state yet)"
}

// diagnose collects the warning events of the core's pods (image pull errors, failed
// probes, scheduling), for the timeout error.
func diagnose(ctx context.Context, cs kubernetes.Interface, namespace string) string {
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.Set{"app.kubernetes.io/instance": ReleaseName}.String(),
	})
	if err != nil || len(pods.Items) == 0 {
		return ""
	}
	var b strings.Builder
	for _, p := range pods.Items {
		events, err := cs.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{
			FieldSelector: fields.Set{"involvedObject.kind": "Pod", "involvedObject.name": p.Name}.String(),
		})
		if err != nil {
			continue
		}
		sort.Slice(events.Items, func(i, j int) bool { return eventTime(&events.Items[i]).Before(eventTime(&events.Items[j])) })
		for _, e := range events.Items {
			if e.Type != corev1.EventTypeWarning {
				continue
			}
			fmt.Fprintf(&b, "\n  pod %s: %s: %s (x%d)", p.Name, e.Reason, e.Message, max(e.Count, 1))
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "\nWarning events:" + b.String()
}

func eventTime(e *corev1.Event) time.Time {
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp.Time
	}
	return e.EventTime.Time
}
