// Command access answers access decisions and keeps the usage log.
package main

import "privacycore/shared/wire"

func main() { wire.Start(wire.AccessAPI) }
