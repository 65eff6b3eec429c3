// Command profile is the profile API Lambda function.
package main

import "privacycore/shared/wire"

func main() { wire.Start(wire.ProfileAPI) }
