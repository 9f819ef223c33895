//! A tiny authoritative DNS server on 127.0.0.1 (UDP and TCP on the same port) answering from a
//! table, so authentication tests run against real DNS traffic without the network.

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, MX, SOA, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

/// Records by (lower-case FQDN, type).
#[derive(Debug, Default, Clone)]
pub struct Zone {
    records: HashMap<(String, RecordType), Vec<RData>>,
}

fn key(name: &str) -> String {
    let mut name = name.to_ascii_lowercase();
    if !name.ends_with('.') {
        name.push('.');
    }
    name
}

impl Zone {
    pub fn txt(mut self, name: &str, text: &str) -> Self {
        // A TXT character-string holds at most 255 bytes: split long records like real zones.
        let parts = text
            .as_bytes()
            .chunks(255)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        self.add(name, RData::TXT(TXT::new(parts)));
        self
    }

    pub fn a(mut self, name: &str, ip: Ipv4Addr) -> Self {
        self.add(name, RData::A(A(ip)));
        self
    }

    #[allow(dead_code)]
    pub fn aaaa(mut self, name: &str, ip: Ipv6Addr) -> Self {
        self.add(name, RData::AAAA(AAAA(ip)));
        self
    }

    #[allow(dead_code)]
    pub fn mx(mut self, name: &str, preference: u16, exchange: &str) -> Self {
        let exchange = Name::from_ascii(key(exchange)).expect("valid test name");
        self.add(name, RData::MX(MX::new(preference, exchange)));
        self
    }

    fn add(&mut self, name: &str, data: RData) {
        let rtype = data.record_type();
        self.records
            .entry((key(name), rtype))
            .or_default()
            .push(data);
    }

    fn name_exists(&self, name: &str) -> bool {
        self.records.keys().any(|(n, _)| n == name)
    }

    /// The reply to one query message, or `None` for bytes that are not a query.
    fn answer(&self, request: &[u8]) -> Option<Vec<u8>> {
        let request = Message::from_vec(request).ok()?;
        let mut reply = Message::response(request.metadata.id, request.metadata.op_code);
        reply.metadata.message_type = MessageType::Response;
        reply.metadata.authoritative = true;
        reply.metadata.recursion_desired = request.metadata.recursion_desired;
        reply.metadata.recursion_available = true;
        for query in &request.queries {
            reply.add_query(query.clone());
            let name = key(&query.name.to_ascii());
            match self.records.get(&(name.clone(), query.query_type)) {
                Some(datas) => {
                    for data in datas {
                        reply.add_answer(Record::from_rdata(query.name.clone(), 60, data.clone()));
                    }
                }
                None => {
                    if !self.name_exists(&name) {
                        reply.metadata.response_code = ResponseCode::NXDomain;
                    }
                    reply.add_authority(soa());
                }
            }
        }
        reply.to_vec().ok()
    }
}

fn soa() -> Record {
    let apex = Name::from_ascii("test.").expect("valid test name");
    let ns = Name::from_ascii("ns.test.").expect("valid test name");
    let mbox = Name::from_ascii("hostmaster.test.").expect("valid test name");
    Record::from_rdata(apex, 60, RData::SOA(SOA::new(ns, mbox, 1, 60, 60, 60, 60)))
}

/// A running server; its tasks stop when it is dropped.
#[derive(Debug)]
pub struct DnsServer {
    pub addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl DnsServer {
    pub async fn start(zone: Zone) -> DnsServer {
        let zone = Arc::new(zone);
        let (udp, tcp) = bind_pair().await;
        let addr = udp.local_addr().expect("bound socket has an address");
        let udp_zone = Arc::clone(&zone);
        let udp_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
                if let Some(reply) = buf.get(..n).and_then(|q| udp_zone.answer(q)) {
                    let _ = udp.send_to(&reply, peer).await;
                }
            }
        });
        let tcp_task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = tcp.accept().await {
                let zone = Arc::clone(&zone);
                tokio::spawn(async move {
                    loop {
                        let mut len = [0u8; 2];
                        if conn.read_exact(&mut len).await.is_err() {
                            break;
                        }
                        let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
                        if conn.read_exact(&mut query).await.is_err() {
                            break;
                        }
                        let Some(reply) = zone.answer(&query) else {
                            break;
                        };
                        let len = u16::try_from(reply.len()).expect("reply under 64 KiB");
                        if conn.write_all(&len.to_be_bytes()).await.is_err()
                            || conn.write_all(&reply).await.is_err()
                        {
                            break;
                        }
                    }
                });
            }
        });
        DnsServer {
            addr,
            tasks: vec![udp_task, tcp_task],
        }
    }
}

/// UDP and TCP sockets on the same loopback port (the resolver uses one port for both).
async fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
        let addr = udp.local_addr().expect("bound socket has an address");
        if let Ok(tcp) = TcpListener::bind(addr).await {
            return (udp, tcp);
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}

/// A nameserver that receives queries and never answers.
#[derive(Debug)]
pub struct SilentServer {
    pub addr: SocketAddr,
    _udp: std::net::UdpSocket,
}

impl SilentServer {
    pub fn start() -> SilentServer {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
        let addr = udp.local_addr().expect("bound socket has an address");
        SilentServer { addr, _udp: udp }
    }
}
