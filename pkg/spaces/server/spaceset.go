package server

import (
	"context"
	"sync"
	"sync/atomic"
)

// spaceSet holds the runner of every space this server serves, by path.
type spaceSet struct {
	env *runnerEnv
	// ctx bounds the runners' lives: the server's.
	ctx context.Context

	mu      sync.Mutex
	runners map[string]*runner
	// listed is set once every Space declared before this start has its runner: until then
	// a path without one may still be a space being resumed.
	listed atomic.Bool
}

func newSpaceSet(ctx context.Context, env *runnerEnv) *spaceSet {
	return &spaceSet{env: env, ctx: ctx, runners: map[string]*runner{}}
}

// ensure starts the space at path with the given ID and role unless it already runs, and
// returns its state.
func (s *spaceSet) ensure(path, id, role string) runnerState {
	s.mu.Lock()
	r, ok := s.runners[path]
	if ok && (r.id != id || r.profile.Name != ProfileFor(path, role).Name) {
		// The path was re-used by a new Space while the old one's processes still ran, or
		// the space's role changed its profile.
		delete(s.runners, path)
		s.mu.Unlock()
		r.Stop()
		s.mu.Lock()
		r, ok = s.runners[path]
	}
	if !ok {
		r = newRunner(s.env, path, id, ProfileFor(path, role))
		s.runners[path] = r
		r.Start(s.ctx)
	}
	s.mu.Unlock()
	return r.State()
}

// remove stops the space at path, if it runs, and returns its ID.
func (s *spaceSet) remove(path string) (string, bool) {
	s.mu.Lock()
	r, ok := s.runners[path]
	delete(s.runners, path)
	s.mu.Unlock()
	if !ok {
		return "", false
	}
	r.Stop()
	return r.id, true
}

// route implements router.
func (s *spaceSet) route(path string) (runnerState, bool) {
	s.mu.Lock()
	r, ok := s.runners[path]
	s.mu.Unlock()
	if !ok {
		return runnerState{}, false
	}
	return r.State(), true
}

// markLoaded says that every Space declared before this start has its runner.
func (s *spaceSet) markLoaded() { s.listed.Store(true) }

// loaded implements router.
func (s *spaceSet) loaded() bool { return s.listed.Load() }

// stopAll stops every space, in parallel.
func (s *spaceSet) stopAll() {
	s.mu.Lock()
	all := s.runners
	s.runners = map[string]*runner{}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range all {
		wg.Go(r.Stop)
	}
	wg.Wait()
}
