#!/usr/bin/env bash
# Runs the cross-model service-mesh tutorial end to end on the simulator (meshsim): a Juju
# controller, a Kubernetes API server and an Istio ambient mesh, all simulated, offline.
#
#   scripts/tutorial.sh           our cross-model tutorial (docs/tutorials/cross-model.md): the
#                                 single-model prelude, then the cross-model steps
#   scripts/tutorial.sh --seed    the published tutorial as written (../shared/seeds: prelude +
#                                 cross-model-mesh-tutorial.md), with its step 4 line given
#                                 explicit endpoints, since Juju refuses the line as written
#   scripts/tutorial.sh FILE...   any scripts or Markdown files
#
# Extra meshsim flags (--keep-going, --state DIR) may follow --seed or precede FILEs.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(meshsim istio-beacon-k8s istio-k8s istio-ingress-k8s
          bookinfo-productpage-k8s bookinfo-details-k8s bookinfo-reviews-k8s bookinfo-ratings-k8s)
echo "== building meshsim and the charms (cargo build --bins)" >&2
cargo build --quiet --bins $(printf -- '-p %s ' "${packages[@]}")
bin="${CARGO_TARGET_DIR:-target}/debug"
export MESHSIM_CHARM_PATH="$PWD/$bin${MESHSIM_CHARM_PATH:+:$MESHSIM_CHARM_PATH}"

if [[ "${1:-}" == "--seed" ]]; then
  shift
  seeds=../shared/seeds
  if [[ ! -f "$seeds/cross-model-mesh-tutorial.md" ]]; then
    echo "the seed tutorial is not at $seeds (it is not part of this repository)" >&2
    exit 2
  fi
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  sed 's/^juju integrate bookinfo-reviews-k8s istio-beacon-k8s$/juju integrate bookinfo-reviews-k8s:service-mesh istio-beacon-k8s:service-mesh/' \
    "$seeds/cross-model-mesh-tutorial.md" > "$tmp/cross-model-mesh-tutorial.md"
  echo "== step 4 given explicit endpoints: juju integrate bookinfo-reviews-k8s:service-mesh istio-beacon-k8s:service-mesh" >&2
  # Not exec: the trap removes the edited copy afterwards.
  "$bin/meshsim" run "$@" "$seeds/prelude-single-model.sh" "$tmp/cross-model-mesh-tutorial.md"
  exit $?
fi

if [[ $# -eq 0 ]]; then
  set -- docs/tutorials/cross-model.md
fi
exec "$bin/meshsim" run "$@"
