//go:build chaos

package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"
)

// faultKind is one kind of fault the suite injects.
type faultKind string

const (
	killMailboxController   faultKind = "kill-mailbox-controller"
	killWhereResolver       faultKind = "kill-where-resolver"
	killPlacementTranslator faultKind = "kill-placement-translator"
	killSpaceServer         faultKind = "kill-space-server"
	killSyncer              faultKind = "kill-syncer"
	stopSpaceAPIServer      faultKind = "sigstop-space-apiserver"
	stopSyncer              faultKind = "sigstop-syncer"
	cutSyncerLink           faultKind = "cut-syncer-link"
	wecAPIServerDown        faultKind = "wec-apiserver-down"
)

// faultKinds lists every kind, in the order the report shows them.
var faultKinds = []faultKind{
	killMailboxController, killWhereResolver, killPlacementTranslator, killSpaceServer, killSyncer,
	stopSpaceAPIServer, stopSyncer, cutSyncerLink, wecAPIServerDown,
}

// Each fault's duration at scale 1. A killed process stays down for killDowntime before it
// is restarted, as a crash-looping container waits for its first restart.
const (
	killDowntime    = 10 * time.Second
	sigstopDuration = 30 * time.Second
	linkCutDuration = 60 * time.Second
	wecDownDuration = 60 * time.Second
)

func (k faultKind) baseDuration() time.Duration {
	switch k {
	case stopSpaceAPIServer, stopSyncer:
		return sigstopDuration
	case cutSyncerLink:
		return linkCutDuration
	case wecAPIServerDown:
		return wecDownDuration
	default:
		return killDowntime
	}
}

// fault is one planned fault.
type fault struct {
	kind faultKind
	// cluster is the index of the cluster (syncer, link) it hits, where it applies.
	cluster int
	// space is the space whose kube-apiserver is stopped.
	space string
	// mode is how a link is cut.
	mode string
	// at is when, after the round's changes begin, the fault starts.
	at       time.Duration
	duration time.Duration
}

// spacesToStop are the spaces whose kube-apiserver a fault may stop.
var spacesToStop = []string{"root", "espw", "imw1", "wmw1"}

// schedule deals the kinds out in shuffled decks, so that every kind comes up once in each
// run of len(faultKinds) rounds.
func schedule(rng *rand.Rand, rounds int) []faultKind {
	var out []faultKind
	for len(out) < rounds {
		deck := append([]faultKind(nil), faultKinds...)
		rng.Shuffle(len(deck), func(i, j int) { deck[i], deck[j] = deck[j], deck[i] })
		out = append(out, deck...)
	}
	return out[:rounds]
}

func planFault(rng *rand.Rand, kind faultKind, clusters int, scale float64) fault {
	return fault{
		kind: kind, cluster: rng.IntN(clusters), space: spacesToStop[rng.IntN(len(spacesToStop))],
		mode: []string{cutReset, cutBlackhole}[rng.IntN(2)],
		// Within the first two seconds of the changes, so that some are in flight.
		at:       time.Duration(rng.IntN(2000)) * time.Millisecond,
		duration: time.Duration(float64(kind.baseDuration()) * scale),
	}
}

func (f fault) String() string {
	switch f.kind {
	case killSyncer, stopSyncer, wecAPIServerDown:
		return fmt.Sprintf("%s %s for %s", f.kind, clusterName(f.cluster), f.duration.Round(100*time.Millisecond))
	case cutSyncerLink:
		return fmt.Sprintf("%s %s (%s) for %s", f.kind, clusterName(f.cluster), f.mode, f.duration.Round(100*time.Millisecond))
	case stopSpaceAPIServer:
		return fmt.Sprintf("%s %s for %s", f.kind, f.space, f.duration.Round(100*time.Millisecond))
	default:
		return fmt.Sprintf("%s for %s", f.kind, f.duration.Round(100*time.Millisecond))
	}
}

func clusterName(i int) string { return fmt.Sprintf("wec%d", i+1) }

// inject makes the fault, holds it, heals it, and returns when it is healed: the killed
// process restarted (the space server serving again), the stopped one continued, the link
// mended, the cluster's apiserver serving again.
func (e *env) inject(ctx context.Context, f fault) error {
	hold := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(f.duration):
			return nil
		}
	}
	switch f.kind {
	case killMailboxController, killWhereResolver, killPlacementTranslator:
		p := e.core.controllers[map[faultKind]string{
			killMailboxController: mailboxController, killWhereResolver: whereResolver, killPlacementTranslator: placementTranslator,
		}[f.kind]]
		return restartAfter(p.kill9(), hold, p.start)
	case killSpaceServer:
		return restartAfter(e.core.server.kill9(), hold, func() error { return e.core.restartServer(ctx) })
	case killSyncer:
		p := e.syncers[f.cluster].proc
		return restartAfter(p.kill9(), hold, p.start)
	case stopSpaceAPIServer:
		pid, ok := e.core.spaceAPIServer(e.spaceIDs[f.space])
		if !ok {
			return fmt.Errorf("no kube-apiserver process found for space %s", f.space)
		}
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			return fmt.Errorf("stopping the kube-apiserver of %s: %w", f.space, err)
		}
		// Continue it whatever happens, so that a failed run leaves no stopped process.
		defer func() { _ = syscall.Kill(pid, syscall.SIGCONT) }()
		return hold()
	case stopSyncer:
		p := e.syncers[f.cluster].proc
		if err := p.signal(syscall.SIGSTOP); err != nil {
			return err
		}
		defer func() { _ = p.signal(syscall.SIGCONT) }()
		return hold()
	case cutSyncerLink:
		s := e.syncers[f.cluster]
		if err := s.cut(f.mode); err != nil {
			return err
		}
		if err := hold(); err != nil {
			_ = s.mend(context.Background(), f.mode)
			return err
		}
		return s.mend(ctx, f.mode)
	case wecAPIServerDown:
		w := e.wecs[f.cluster]
		w.stopAPIServer()
		if err := hold(); err != nil {
			return err
		}
		if err := w.start(ctx); err != nil {
			return err
		}
		// The namespace controller may have given up while its server was away.
		if w.kcm.pid() == 0 {
			e.logf("restarting the kube-controller-manager of %s, which exited", w.name)
			return w.kcm.start()
		}
		return nil
	}
	return fmt.Errorf("unknown fault kind %q", f.kind)
}

// restartAfter holds a kill's downtime and restarts the process, also when the kill failed
// because the process had already exited on its own (which killErr then reports).
func restartAfter(killErr error, hold, start func() error) error {
	if err := hold(); err != nil {
		return errors.Join(killErr, err)
	}
	return errors.Join(killErr, start())
}
