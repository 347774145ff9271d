"""FanFlow as a script, for the CLI tests."""

from tests.flows.client_flows import FanFlow

if __name__ == "__main__":
    FanFlow()
