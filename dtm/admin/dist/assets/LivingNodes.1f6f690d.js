import{_ as e,c as o,o as n}from"./index.05cf24d5.js";const c={};function r(t,s){return n(),o("h1",null,"Coming Soon")}const a=e(c,[["render",r]]);export{a as default};
