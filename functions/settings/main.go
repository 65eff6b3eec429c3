// Command settings serves the privacy settings.
package main

import "privacycore/shared/wire"

func main() { wire.Start(wire.SettingsAPI) }
