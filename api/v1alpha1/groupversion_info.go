// Package v1alpha1 contains the ovhbridge.io/v1alpha1 API: FailoverIP,
// BridgedVM and RouterConfig, which together describe a bridged OVH dedicated
// server running ESXi with failover IPs, virtual MACs and a router VM.
//
// +kubebuilder:object:generate=true
// +groupName=ovhbridge.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "ovhbridge.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
