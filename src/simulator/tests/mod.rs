//! Black-box tests of the simulator over real HTTP and websockets.
