package wire

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"privacycore/shared/domain/personkey"
)

// keyer reads the person-key secret from the SSM Parameter Store
// SecureString named by PERSON_KEY_SECRET_PARAM, once per cold start. The
// local stack puts the development secret into the emulator's Parameter
// Store, so local runs take this same path.
//
// Every table key derives from the secret, so a changed secret would make
// everyone's data unreachable and split new writes from old. When
// PERSON_KEY_FINGERPRINT is set, a secret with another fingerprint is
// refused: the function fails to start (its Errors alarm fires) rather than
// write under the wrong keys.
func (e Env) keyer() (*personkey.Keyer, error) {
	name, err := e.require("PERSON_KEY_SECRET_PARAM")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := ssm.NewFromConfig(e.AWS).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read the person-key secret from SSM parameter %s: %w", name, err)
	}
	if out.Parameter == nil {
		return nil, fmt.Errorf("SSM parameter %s has no value", name)
	}
	secret := []byte(aws.ToString(out.Parameter.Value))
	k, err := personkey.New(secret)
	if err != nil {
		return nil, fmt.Errorf("SSM parameter %s: %w", name, err)
	}
	got := Fingerprint(secret)
	if want := e.Getenv("PERSON_KEY_FINGERPRINT"); want != "" && want != got {
		return nil, fmt.Errorf("the person-key secret in %s has fingerprint %s, the stack expects %s: the secret was changed; refusing to start", name, got, want)
	}
	e.logger().Info("person-key secret loaded", "parameter", name, "fingerprint", got)
	return k, nil
}

// Fingerprint identifies a person-key secret without revealing it: the
// first 64 bits of an HMAC of a fixed label, as four dash-separated groups
// (so no run of digits in it looks like a person id to the log masking).
func Fingerprint(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("privacycore person-key fingerprint"))
	h := hex.EncodeToString(m.Sum(nil))
	return h[0:4] + "-" + h[4:8] + "-" + h[8:12] + "-" + h[12:16]
}
