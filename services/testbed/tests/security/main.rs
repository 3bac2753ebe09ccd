//! Security and abuse on the launcher's stack: only the Order Service moves stock, operator
//! views need the admin token, guards on every service (admin token, body limits, NUL
//! characters), and a login flood the User Service binary survives within its limits.

mod flood;
mod guards;
mod security;
mod stack;
