// Command age-transitions ends parents' access at 16 and records the 12-year restriction (daily).
package main

import "privacycore/shared/wire"

func main() { wire.Start(wire.AgeTransitions) }
