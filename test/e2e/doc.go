// Package e2e holds the end-to-end tests (build tag e2e): KubeStellar deployed with its
// chart into a real single-node Kubernetes cluster (hack/cluster), reached through the
// cluster's ingress, with a workload going to the edge and back.
//
// `make e2e` (hack/e2e.sh) brings the cluster and its ingress up, builds the images and
// loads them into the cluster, runs
//
//	go test -tags e2e ./test/e2e/... -v -timeout 40m
//
// and always tears the cluster down afterwards. The tests learn their surroundings from the
// environment:
//
//   - KUBECONFIG: the admin kubeconfig of the hosting cluster.
//   - KUBESTELLAR_E2E_INGRESS_ADDRESS and KUBESTELLAR_E2E_INGRESS_PORT: where the ingress
//     (TLS passthrough by SNI) listens, reachable from the host and from pods.
//   - KUBESTELLAR_E2E_EXTERNAL_HOST: a host name that resolves to the ingress address on the
//     host and in pods; KUBESTELLAR_E2E_EXTERNAL_ENDPOINT is HOST:PORT, the value for
//     `kubectl kubestellar deploy --external-endpoint`.
//   - KUBESTELLAR_E2E_IMAGE_REGISTRY, KUBESTELLAR_E2E_IMAGE_REPOSITORY and
//     KUBESTELLAR_E2E_IMAGE_TAG: the names under which the component images were loaded
//     (<registry>/<repository>/<component>:<tag>, imagePullPolicy IfNotPresent or Never).
//   - KUBESTELLAR_E2E_KUBECTL_IMAGE: an image whose entrypoint is kubectl, for running a
//     kubeconfig from inside a pod.
//   - KUBESTELLAR_E2E_BIN_DIR: the built commands (kubectl-kubestellar, ...).
//   - KUBECTL and HELM: the kubectl and helm binaries to use.
//   - KUBESTELLAR_TEST_ASSETS: the upstream test binaries (as for the integration tests), for
//     an API-only cluster that plays a second workload execution cluster.
//   - KUBESTELLAR_E2E_TIMINGS: a file to which a test may append lines "PHASE<TAB>SECONDS"
//     (for example "deploy → Ready", "external kubeconfig usable", "workload at the edge");
//     hack/e2e.sh prints them in its table of phase times.
package e2e
