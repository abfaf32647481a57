//go:build chaos

package chaos

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/apis"
	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/localrun"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/test/framework"
)

var (
	seedFlag     = flag.Uint64("chaos.seed", 0, "random seed of the run (0: from the time); printed, to replay a run")
	roundsFlag   = flag.Int("chaos.rounds", 20, "number of rounds, each with one fault")
	scaleFlag    = flag.Float64("chaos.scale", 1.0, "factor on each fault's duration (at 1: SIGSTOP 30s, link cut 60s, cluster apiserver down 60s, killed process down 10s)")
	binFlag      = flag.String("chaos.bin", "", "directory holding the built KubeStellar commands (make build's bin/); they are built into a temporary directory when empty")
	convergeFlag = flag.Duration("chaos.converge-timeout", 3*time.Minute, "how long the clusters may take to converge after a fault is healed; longer is a failure")
	maxFailFlag  = flag.Int("chaos.max-failed-rounds", 3, "stop after this many rounds that did not converge (0: never stop early)")
	logsFlag     = flag.String("chaos.logs", "", "directory to copy the processes' logs into when the run fails (default: a new directory under $TMPDIR)")
)

const (
	imwPath = "root:imw1"
	wmwPath = "root:wmw1"
	// opsDeadline bounds the retries of one round's changes while the core is down.
	opsDeadline = 5 * time.Minute
)

// env is everything one run drives.
type env struct {
	t       *testing.T
	core    *core
	wecs    []*wec
	wecCS   []kubernetes.Interface
	syncers []*syncerProc
	wmw     kubernetes.Interface
	espw    kubernetes.Interface
	// espwClient reads the mailboxes' wrappers, to tell where a difference stopped.
	espwClient client.Client
	spaceIDs   map[string]string
	model      *model
	seeds      seeded
	local      [][]localObject
	// mailboxes are the mailbox namespaces' UIDs when the rounds began.
	mailboxes map[string]string
	// reported are the invariant violations already counted.
	reported map[string]bool
	start    time.Time
}

func (e *env) logf(format string, args ...any) {
	e.t.Logf("[%6.1fs] %s", time.Since(e.start).Seconds(), fmt.Sprintf(format, args...))
}

// roundResult is what one round found.
type roundResult struct {
	n         int
	fault     fault
	ops       int
	converged bool
	// converge is the time from healing (or the last change, when later) to convergence.
	converge                 time.Duration
	lost, stale, extra       []diffItem
	untouched, mailboxIssues []string
	// spuriousNotFound are the answers that said an existing space was not found.
	spuriousNotFound []string
	err              error
	// details are the differences and violations found, with where each one stopped.
	details []string
}

func (r roundResult) failed() bool {
	return !r.converged || len(r.untouched)+len(r.mailboxIssues)+len(r.spuriousNotFound) > 0 || r.err != nil
}

func TestChaos(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	replay := fmt.Sprintf("-chaos.seed %d -chaos.rounds %d -chaos.scale %g", seed, *roundsFlag, *scaleFlag)
	t.Logf("chaos seed %d (replay with: %s)", seed, replay)

	e := setup(t)
	e.logf("setup done; %d rounds at scale %g", *roundsFlag, *scaleFlag)

	var results []roundResult
	failed := 0
	for i, kind := range schedule(rng, *roundsFlag) {
		f := planFault(rng, kind, len(e.wecs), *scaleFlag)
		ops := e.model.plan(rng, 4+rng.IntN(7))
		// The changes go on through the first half of the fault, after some in flight.
		spread(rng, ops, f.at+f.duration/2)
		r := e.round(i+1, f, ops)
		results = append(results, r)
		if r.failed() {
			failed++
			if *maxFailFlag > 0 && failed >= *maxFailFlag {
				e.logf("stopping after %d failed rounds", failed)
				break
			}
		}
		if t.Context().Err() != nil {
			break
		}
	}
	report(t, seed, replay, results, time.Since(e.start))
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, start: time.Now(), model: newModel(), seeds: seeded{}, reported: map[string]bool{}, spaceIDs: map[string]string{}}
	ctx := t.Context()
	bin := *binFlag
	if bin == "" {
		bin = framework.BuildCommands(t, spaceServer, mailboxController, whereResolver, placementTranslator, syncerCommand)
		e.logf("built the commands into %s", bin)
	}
	dir := framework.TempDir(t)
	// Registered after TempDir, so it runs before the directory is removed.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		dst := *logsFlag
		if dst == "" {
			var err error
			if dst, err = os.MkdirTemp("", "kubestellar-chaos-logs-"); err != nil {
				t.Logf("keeping the logs: %v", err)
				return
			}
		}
		if err := copyLogs(dir, dst); err != nil {
			t.Logf("copying the logs: %v", err)
		}
		t.Logf("the processes' logs are in %s", dst)
	})

	e.core = startCore(t, bin, dir)
	e.logf("space server serving at %s", e.core.baseURL())
	must(t, localrun.Init(ctx, &localrun.Options{
		LocalServer: true, RootDir: e.core.rootDir, ESPWPath: espwPath, IMWs: []string{imwPath}, WMWs: []string{wmwPath},
		Timeout: 3 * time.Minute, Out: io.Discard,
	}))
	e.logf("spaces ready")
	root, err := client.New(e.core.config(spaces.RootPath), client.Options{Scheme: apis.NewScheme()})
	must(t, err)
	for _, name := range spacesToStop {
		if name == spaces.RootPath {
			continue
		}
		s := &spacev1alpha1.Space{}
		must(t, root.Get(ctx, client.ObjectKey{Name: name}, s))
		e.spaceIDs[name] = s.Status.Cluster
	}
	// The root space's processes live in the directory named by its ID too.
	entries, err := os.ReadDir(filepath.Join(e.core.rootDir, "spaces"))
	must(t, err)
	for _, de := range entries {
		if !slices.Contains(slices.Collect(maps.Values(e.spaceIDs)), de.Name()) {
			e.spaceIDs[spaces.RootPath] = de.Name()
		}
	}

	e.wmw = kubernetes.NewForConfigOrDie(e.core.config(wmwPath))
	e.espw = kubernetes.NewForConfigOrDie(e.core.config(espwPath))
	e.espwClient, err = client.New(e.core.config(espwPath), client.Options{Scheme: apis.NewScheme()})
	must(t, err)
	imw, err := client.New(e.core.config(imwPath), client.Options{Scheme: apis.NewScheme()})
	must(t, err)
	tp := newToxiproxy()
	for i := range 2 {
		name := clusterName(i)
		w := startWEC(t, name, dir)
		e.wecs = append(e.wecs, w)
		e.wecCS = append(e.wecCS, kubernetes.NewForConfigOrDie(w.admin))
		st := framework.EnsureLocation(t, imw, name, map[string]string{"env": "chaos"})
		box := mailbox.Name(e.spaceIDs["imw1"], st.UID)
		must(t, wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := e.espw.CoreV1().Namespaces().Get(ctx, box, metav1.GetOptions{})
			return err == nil, nil
		}))
		e.syncers = append(e.syncers, startSyncer(t, e.core, tp, bin, dir, w, box))
		e.logf("cluster %s at %s, mailbox %s", name, w.admin.Host, box)
	}

	// The workload's starting point, then the placement.
	e.model.namespaces[baseNamespace] = desired{Labels: map[string]string{labelWorkload: "true"}}
	initial := []op{{what: "create Namespace " + baseNamespace, run: applyNamespace(baseNamespace, e.model.namespaces[baseNamespace])}}
	for range 3 {
		initial = append(initial, e.model.cmCreate(rand.New(rand.NewPCG(1, 2)), baseNamespace))
	}
	roleName := e.model.name("role")
	e.model.roles[roleName] = randomRole(rand.New(rand.NewPCG(3, 4)))
	initial = append(initial, op{what: "create ClusterRole " + roleName, run: applyRole(roleName, e.model.roles[roleName])})
	_, err = runOps(ctx, e.wmw, initial, time.Now().Add(time.Minute))
	must(t, err)
	wmw, err := client.New(e.core.config(wmwPath), client.Options{Scheme: apis.NewScheme()})
	must(t, err)
	workload := []metav1.LabelSelector{{MatchLabels: map[string]string{labelWorkload: "true"}}}
	must(t, wmw.Create(ctx, &edgev2alpha1.EdgePlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "chaos"},
		Spec: edgev2alpha1.EdgePlacementSpec{
			LocationSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"env": "chaos"}}},
			Downsync: []edgev2alpha1.DownsyncObjectTest{
				{APIGroup: ptr.To(""), Resources: []string{"namespaces"}, LabelSelectors: workload},
				{APIGroup: ptr.To(""), Resources: []string{"configmaps"}, NamespaceSelectors: workload},
				{APIGroup: ptr.To("rbac.authorization.k8s.io"), Resources: []string{"clusterroles"}, LabelSelectors: workload},
			},
		},
	}))
	took, obs, err := e.converge(ctx, 5*time.Minute, "before any fault")
	if err != nil || !obs.converged() {
		t.Fatalf("the workload did not reach the clusters before any fault (err %v): lost %v stale %v extra %v", err, obs.lost, obs.stale, obs.extra)
	}
	e.logf("workload in both clusters after %s", took.Round(100*time.Millisecond))

	// What the clusters hold of their own, and the mailboxes, from now on.
	for i, cs := range e.wecCS {
		objs, err := seedCluster(ctx, cs)
		must(t, err)
		e.local = append(e.local, objs)
		for _, l := range objs {
			e.seeds[seedKey(l.kind, l.key())] = true
		}
		e.logf("seeded %s with %d objects of its own", clusterName(i), len(objs))
	}
	e.mailboxes, err = e.listMailboxes(ctx)
	must(t, err)
	if len(e.mailboxes) != len(e.wecs) {
		t.Fatalf("want %d mailboxes, have %v", len(e.wecs), e.mailboxes)
	}
	return e
}

// round makes the changes while the fault comes and goes, then waits for convergence and
// checks the invariants.
func (e *env) round(n int, f fault, ops []op) roundResult {
	ctx := e.t.Context()
	r := roundResult{n: n, fault: f, ops: len(ops)}
	if err := e.reviveExited(); err != nil {
		r.err = err
	}
	e.logf("round %d: %d changes; fault %s at +%s", n, len(ops), f, f.at.Round(10*time.Millisecond))
	began := time.Now()
	opsDone := make(chan error, 1)
	var opsEnded time.Time
	go func() {
		spurious, err := runOps(ctx, e.wmw, ops, time.Now().Add(opsDeadline))
		r.spuriousNotFound, opsEnded = spurious, time.Now()
		opsDone <- err
	}()
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(began.Add(f.at))):
	}
	if err := e.inject(ctx, f); err != nil {
		r.err = errors.Join(r.err, fmt.Errorf("injecting %s: %w", f, err))
		e.logf("round %d: %v", n, r.err)
	}
	healed := time.Now()
	if err := <-opsDone; err != nil {
		r.err = errors.Join(r.err, fmt.Errorf("making the changes: %w", err))
		e.logf("round %d: %v", n, r.err)
		return r
	}
	from := healed
	if opsEnded.After(from) {
		from = opsEnded
	}
	_, obs, err := e.converge(ctx, *convergeFlag, fmt.Sprintf("round %d", n))
	r.converge = time.Since(from)
	if err != nil {
		r.err = errors.Join(r.err, err)
	}
	r.converged = obs.converged() && err == nil
	r.lost, r.stale, r.extra = obs.lost, obs.stale, obs.extra
	r.untouched, r.mailboxIssues = e.checkInvariants(ctx)
	status := "converged"
	if !r.converged {
		status = "NOT converged"
	}
	e.logf("round %d: %s %s after healing; lost %d stale %d extra %d untouched-violations %d mailbox-deletions %d space-notfound %d",
		n, status, r.converge.Round(100*time.Millisecond), len(r.lost), len(r.stale), len(r.extra), len(r.untouched), len(r.mailboxIssues), len(r.spuriousNotFound))
	for _, l := range [][]diffItem{r.lost, r.stale, r.extra} {
		for _, d := range l {
			r.details = append(r.details, d.String(), "  where it stopped: "+e.diagnose(ctx, d))
		}
	}
	for _, l := range [][]string{r.untouched, r.mailboxIssues, r.spuriousNotFound} {
		r.details = append(r.details, l...)
	}
	for _, d := range r.details {
		e.logf("round %d:   %s", n, d)
	}
	return r
}

// slowAfter is how long convergence may take before the differences left, and where each
// stopped, are logged: a slow round that still converges then says why it was slow.
const slowAfter = 20 * time.Second

// slowShown bounds the differences logged for a slow round.
const slowShown = 5

// converge polls the clusters (every 500 ms) until they match the model or timeout passes,
// and returns how long that took and the last observation. A cluster that cannot be read
// is not a difference: it is asked again. Past slowAfter, what is still different is logged
// once, under label.
func (e *env) converge(ctx context.Context, timeout time.Duration, label string) (time.Duration, observation, error) {
	began := time.Now()
	var last observation
	var lastErr error
	observed, slowLogged := false, false
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if observed && !slowLogged && !last.converged() && time.Since(began) >= slowAfter {
			slowLogged = true
			e.logSlow(ctx, label, time.Since(began), last)
		}
		var all observation
		for i, cs := range e.wecCS {
			o, err := observeCluster(ctx, i, cs, e.model, e.seeds)
			if err != nil {
				lastErr = err
				return false, nil
			}
			all.lost = append(all.lost, o.lost...)
			all.stale = append(all.stale, o.stale...)
			all.extra = append(all.extra, o.extra...)
		}
		last, observed, lastErr = all, true, nil
		return all.converged(), nil
	})
	if err != nil {
		if !observed {
			return time.Since(began), last, fmt.Errorf("the clusters could not be read within %s: %w", timeout, lastErr)
		}
		return time.Since(began), last, nil
	}
	return time.Since(began), last, nil
}

// logSlow logs the differences left after waited, the first few with where each stopped.
func (e *env) logSlow(ctx context.Context, label string, waited time.Duration, o observation) {
	e.logf("%s: not converged after %s: lost %d stale %d extra %d", label, waited.Round(100*time.Millisecond), len(o.lost), len(o.stale), len(o.extra))
	shown := 0
	for _, l := range [][]diffItem{o.lost, o.stale, o.extra} {
		for _, d := range l {
			if shown == slowShown {
				return
			}
			shown++
			e.logf("%s:   %s; where it stopped: %s", label, d, e.diagnose(ctx, d))
		}
	}
}

// checkInvariants checks the clusters' own objects and the mailboxes, asking again for up
// to a minute while a server cannot answer. A violation is reported once.
func (e *env) checkInvariants(ctx context.Context) (untouched, mailboxes []string) {
	_ = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		untouched = nil
		for i, cs := range e.wecCS {
			v, err := checkLocal(ctx, clusterName(i), cs, e.local[i])
			if err != nil {
				return false, nil
			}
			untouched = append(untouched, v...)
		}
		return true, nil
	})
	_ = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		now, err := e.listMailboxes(ctx)
		if err != nil {
			return false, nil
		}
		mailboxes = nil
		for name, uid := range e.mailboxes {
			switch got, ok := now[name]; {
			case !ok:
				mailboxes = append(mailboxes, "mailbox "+name+": deleted")
			case got != uid:
				mailboxes = append(mailboxes, fmt.Sprintf("mailbox %s: deleted and re-created (UID %s, was %s)", name, got, uid))
			}
		}
		return true, nil
	})
	return e.fresh(untouched), e.fresh(mailboxes)
}

// fresh keeps the violations not reported before: each is counted once. A violation's text
// names what it found (a resourceVersion, a UID), so a new one reads differently.
func (e *env) fresh(violations []string) []string {
	var out []string
	for _, v := range violations {
		if !e.reported[v] {
			e.reported[v] = true
			out = append(out, v)
		}
	}
	return out
}

// listMailboxes returns the mailbox namespaces of the core space by name, with their UIDs;
// one being deleted is left out.
func (e *env) listMailboxes(ctx context.Context) (map[string]string, error) {
	list, err := e.espw.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i := range list.Items {
		ns := &list.Items[i]
		if ns.Annotations[mailbox.AnnotationSyncTargetName] != "" && ns.DeletionTimestamp == nil {
			out[ns.Name] = string(ns.UID)
		}
	}
	return out, nil
}

// reviveExited restarts every process of the core, syncer or cluster that exited on its
// own since the last round (no fault does that), and reports each as an error.
func (e *env) reviveExited() error {
	procs := []*proc{e.core.server}
	for _, name := range controllerNames {
		procs = append(procs, e.core.controllers[name])
	}
	for _, s := range e.syncers {
		procs = append(procs, s.proc)
	}
	for _, w := range e.wecs {
		procs = append(procs, w.kcm)
	}
	var errs []error
	for _, p := range procs {
		if p.pid() != 0 {
			continue
		}
		_, why := p.current().Exited()
		errs = append(errs, fmt.Errorf("%s had exited on its own (%w); restarted", p.name, why))
		e.logf("%s had exited on its own (%v); restarting it", p.name, why)
		var err error
		if p == e.core.server {
			err = e.core.restartServer(e.t.Context())
		} else {
			err = p.start()
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
