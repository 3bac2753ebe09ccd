//! The stack driven from outside, as an operator or a client would: `testbed user-token`
//! (a bearer token for curl), `testbed audit` (the books checked through the contract
//! clients, exit 0/1/2) and the NGINX gateway in front of the real services. All start the
//! launcher's in-process stack (`in_process`); the gateway tests also start a real nginx
//! (`nginx`). `scripts/gateway-ci.sh` runs the `gateway::` tests after making sure nginx is
//! installed.

mod audit;
mod gateway;
mod in_process;
mod nginx;
mod user_token;
