//! The pod's QoS class, computed as Kubernetes does.
