// Command consent is the consent API Lambda function.
package main

import "privacycore/shared/wire"

func main() { wire.Start(wire.ConsentAPI) }
