// Command representation serves powers of attorney and the person selector.
package main

import "privacycore/shared/wire"

func main() { wire.Start(wire.RepresentationAPI) }
