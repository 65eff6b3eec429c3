// Command sector-settings serves the citizen's health personnel's access
// settings and research and registry choices.
package main

import "privacycore/shared/wire"

func main() { wire.Start(wire.SectorSettingsAPI) }
