// Package chaos is KubeStellar's fault suite (build tag chaos; `make chaos`). It runs the
// core as bare processes (space server, mailbox controller, where-resolver, placement
// translator), two workload execution clusters as real kube-apiservers, and a syncer process
// per cluster whose link to the core passes through a TCP proxy (toxiproxy, in the test
// process) that the suite controls. Each round changes the workload, injects one fault at a
// random moment (a kill -9 and restart of a core process or a syncer, a SIGSTOP of a space's
// kube-apiserver or of a syncer, a cut syncer link, a cluster's apiserver down), heals it,
// waits for the clusters to converge and checks that every cluster holds exactly what it
// should, that objects KubeStellar did not create are untouched, that no mailbox was
// deleted and that no existing space was ever reported not found. It prints its seed and a
// table at the end.
//
//	KUBESTELLAR_TEST_ASSETS=$(make -s print-test-assets) go test -tags chaos ./test/chaos \
//	    -run TestChaos -v -timeout 60m -args -chaos.rounds 20 -chaos.scale 0.25 [-chaos.seed N]
package chaos
