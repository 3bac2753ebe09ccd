//! Reliability under real faults, while orders flow: service processes killed and
//! restarted, a private Redis killed, a private PostgreSQL cluster stopped — afterwards
//! nothing is pending, nothing acknowledged is lost, and the books balance.

mod load;
mod reliability;
