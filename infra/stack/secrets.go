package stack

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// PutSecret stores value as an SSM Parameter Store SecureString named name on
// the emulator. Deployed functions read their secrets from Parameter Store
// (created by an operator, never by the template); the local stack puts
// development values in the same place, so the functions take one code path.
func (l *Local) PutSecret(ctx context.Context, name, value string) error {
	_, err := ssm.NewFromConfig(l.AWS).PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("put SSM parameter %s: %w", name, err)
	}
	return nil
}

// DeleteSecret deletes a parameter PutSecret stored.
func (l *Local) DeleteSecret(ctx context.Context, name string) error {
	if _, err := ssm.NewFromConfig(l.AWS).DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(name)}); err != nil {
		return fmt.Errorf("delete SSM parameter %s: %w", name, err)
	}
	return nil
}
