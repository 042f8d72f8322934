package esxi

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// hasFault is implemented by govmomi's SOAP and vim fault errors.
type hasFault interface {
	Fault() types.BaseMethodFault
}

// faultOf returns the vSphere fault carried by err, if any.
func faultOf(err error) types.BaseMethodFault {
	var hf hasFault
	if errors.As(err, &hf) {
		return hf.Fault()
	}
	return nil
}

// faultName is the vSphere type name of a fault ("InvalidPowerState").
func faultName(f types.BaseMethodFault) string {
	t := reflect.TypeOf(f)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// faultKind maps a vSphere fault to what a controller can do about it.
func faultKind(f types.BaseMethodFault) cause.Kind {
	switch f.(type) {
	case *types.NotAuthenticated, *types.InvalidLogin, *types.NoPermission, *types.PasswordExpired:
		return cause.CredentialsInvalid
	case *types.ManagedObjectNotFound, *types.NotFound:
		return cause.NotFound
	case *types.InvalidPowerState, *types.InvalidPowerStateFault, *types.TaskInProgress,
		*types.ConcurrentAccess, *types.InvalidState, *types.ResourceInUse, *types.DuplicateName:
		return cause.Conflict
	case *types.InvalidArgument, *types.InvalidRequest, *types.InvalidDeviceSpec, *types.InvalidVmConfig,
		*types.NotSupported, *types.InvalidType:
		return cause.Invalid
	case *types.MethodNotFound, *types.NotImplemented, *types.MethodDisabled:
		return cause.CapabilityMissing
	case *types.RequestCanceled, *types.HostCommunication, *types.HostNotConnected, *types.HostNotReachable:
		return cause.Unreachable
	}
	// The fault hierarchy is deep (InvalidPowerState is an InvalidState, many
	// device faults are InvalidDeviceSpec...): classify by ancestor too.
	switch {
	case isA[types.BaseInvalidState](f):
		return cause.Conflict
	case isA[types.BaseInvalidArgument](f), isA[types.BaseInvalidRequest](f), isA[types.BaseInvalidVmConfig](f):
		return cause.Invalid
	case isA[types.BaseNoPermission](f), isA[types.BaseInvalidLogin](f):
		return cause.CredentialsInvalid
	}
	return cause.Unreachable // SystemError, RuntimeFault...: the host's trouble, worth a retry
}

func isA[T any](f types.BaseMethodFault) bool {
	_, ok := f.(T)
	return ok
}

// classify wraps an error from govmomi into a cause.Error for operation op.
// Messages come from the host or the network stack and never contain the
// password (it is only sent in the Login body, which is never echoed).
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var ce *cause.Error
	if errors.As(err, &ce) {
		return err
	}
	var nf *find.NotFoundError
	if errors.As(err, &nf) {
		return cause.New(cause.NotFound, system, op, err.Error(), err)
	}
	var te *TrustError
	if errors.As(err, &te) {
		return cause.New(cause.TrustFailure, system, op, te.Error(), err)
	}
	if f := faultOf(err); f != nil {
		msg := faultName(f)
		if soap.IsSoapFault(err) {
			if s := soap.ToSoapFault(err).String; s != "" {
				msg = fmt.Sprintf("%s: %s", msg, s)
			}
		}
		return cause.New(faultKind(f), system, op, msg, err)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return cause.New(cause.Unreachable, system, op, "timed out", err)
	case errors.Is(err, context.Canceled):
		return cause.New(cause.Unreachable, system, op, "cancelled", err)
	}
	// Refused connections, DNS failures, resets, HTTP errors.
	return cause.New(cause.Unreachable, system, op, err.Error(), err)
}

// TrustError is a TLS certificate the credentials do not trust. It always
// names the thumbprint the server presented, so that a user who checked it
// on the host console can pin it.
type TrustError struct {
	Presented string // SHA-256 thumbprint of the server's certificate
	Reason    string
}

func (e *TrustError) Error() string {
	return fmt.Sprintf("server certificate not trusted (%s); it presented SHA-256 thumbprint %s", e.Reason, e.Presented)
}
