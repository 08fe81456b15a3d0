//! meta.k8s.io/v1 Table rendering for `kubectl get`.
