"""The simulated network, Maelstrom's services, and the faults the nemesis injects."""
