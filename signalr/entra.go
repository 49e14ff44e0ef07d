package signalr

import (
	"errors"
	"fmt"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// NewCredential returns the Entra ID credential a connection string asks
// for, mapped as the .NET SDK maps it:
//
//	AuthType=azure                                → DefaultAzureCredential
//	AuthType=azure.msi                            → system-assigned managed identity
//	AuthType=azure.msi;ClientId=X                 → user-assigned managed identity X
//	AuthType=azure.app;ClientId;TenantId;ClientSecret → client secret (wins over ClientCert)
//	AuthType=azure.app;ClientId;TenantId;ClientCert=<PEM/PKCS#12 file> → client certificate
//	AuthType=aad (legacy): ClientId+TenantId+secret/cert → application;
//	    ClientId only → user-assigned identity; nothing → system-assigned;
//	    ClientId+TenantId without secret or cert → error
//
// It makes no network call. Errors never contain the client secret.
func NewCredential(cs *ConnectionString) (azcore.TokenCredential, error) {
	if cs == nil {
		return nil, errors.New("signalr: nil connection string")
	}
	switch cs.AuthType {
	case AuthTypeAzure:
		return wrapCred(azidentity.NewDefaultAzureCredential(nil))
	case AuthTypeAzureMSI:
		return managedIdentity(cs.ClientID)
	case AuthTypeAzureApp:
		if cs.ClientID == "" || cs.TenantID == "" || (cs.ClientSecret == "" && cs.ClientCert == "") {
			return nil, errors.New("signalr: AuthType=azure.app needs ClientId, TenantId and ClientSecret or ClientCert")
		}
		return application(cs)
	case AuthTypeAAD:
		switch {
		case cs.ClientID != "" && cs.TenantID != "" && (cs.ClientSecret != "" || cs.ClientCert != ""):
			return application(cs)
		case cs.TenantID != "":
			return nil, errors.New("signalr: AuthType=aad with TenantId needs ClientId and ClientSecret or ClientCert")
		default:
			return managedIdentity(cs.ClientID)
		}
	}
	return nil, fmt.Errorf("signalr: connection string does not use Entra ID (AuthType %q)", string(cs.AuthType))
}

func managedIdentity(clientID string) (azcore.TokenCredential, error) {
	var o azidentity.ManagedIdentityCredentialOptions
	if clientID != "" {
		o.ID = azidentity.ClientID(clientID)
	}
	return wrapCred(azidentity.NewManagedIdentityCredential(&o))
}

func application(cs *ConnectionString) (azcore.TokenCredential, error) {
	if cs.ClientSecret != "" {
		return wrapCred(azidentity.NewClientSecretCredential(cs.TenantID, cs.ClientID, cs.ClientSecret, nil))
	}
	data, err := os.ReadFile(cs.ClientCert)
	if err != nil {
		return nil, fmt.Errorf("signalr: reading ClientCert: %w", err)
	}
	certs, key, err := azidentity.ParseCertificates(data, nil)
	if err != nil {
		return nil, fmt.Errorf("signalr: parsing ClientCert %s: %w", cs.ClientCert, err)
	}
	return wrapCred(azidentity.NewClientCertificateCredential(cs.TenantID, cs.ClientID, certs, key, nil))
}

func wrapCred[T azcore.TokenCredential](c T, err error) (azcore.TokenCredential, error) {
	if err != nil {
		return nil, fmt.Errorf("signalr: creating Entra ID credential: %w", err)
	}
	return c, nil
}
