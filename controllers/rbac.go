package controllers

// The operator's whole permission set, generated into config/rbac/role.yaml.
// It reads Secrets (credentials) but never writes them, and writes nothing
// outside its own kinds but Events and its leader-election Lease.
//
// Every write to its own kinds is a patch (finalizers through the object,
// status through the subresource, both with an optimistic lock): no update,
// no create, no delete. finalizers/update is what clusters that enforce
// owner-reference permissions (OpenShift) check when a finalizer is set.
//
// +kubebuilder:rbac:groups=ovhbridge.io,resources=failoverips;bridgedvms;routerconfigs,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=ovhbridge.io,resources=failoverips/status;bridgedvms/status;routerconfigs/status,verbs=patch
// +kubebuilder:rbac:groups=ovhbridge.io,resources=failoverips/finalizers;bridgedvms/finalizers;routerconfigs/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
//
// With --metrics-secure, each scrape's token is checked with the API server:
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
