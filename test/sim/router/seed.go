package routersim

// SeedVyatta2013 is the seed write-up's Vyatta 6.5 configuration (2013) with
// documentation addresses: WAN 203.0.113.123/32 on eth2, OVH gateway
// 198.51.100.254 reached through an interface-route plus
// system gateway-address — the combination that makes Quagga install a
// default route without a gateway — and the masquerade rule for the LAN.
const SeedVyatta2013 = `interfaces {    
    ethernet eth1 {       
        address 10.0.10.254/24       
        description LAN       
        duplex auto   
    }    
    ethernet eth2 {       
        address 203.0.113.123/32       
        description WAN       
        duplex auto    
    }
}
nat {
    source {
        rule 10 {
            description NAT-LAN-TO-WAN
            outbound-interface eth2
            source {
                address 10.0.10.0/24
            }
            translation {
                address masquerade
            }
        }
    }
}
protocols {    
    static {       
        interface-route 198.51.100.254/32 {          
            next-hop-interface eth2 {          
            }       
        }    
    }
}
service {
    ssh {
        port 22
    }
}
system {    
    gateway-address 198.51.100.254
    host-name vyatta
    login {
        user vyatta {
            authentication {
                encrypted-password $6$sim$notarealhash
            }
            level admin
        }
    }
}
`
